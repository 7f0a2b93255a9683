"`python -m shoptasks ...` runs the `shoptasks` command (this is what torchrun's `-m shoptasks` starts)."
from shoptasks.cli import main

main()
