__version__ = "0.1.0"

# The public API. Importing shoptasks registers model_type "shoptasks" with transformers' Auto classes.
from .errors import ShoptasksError
from .model import ShoptasksConfig, ShoptasksForCausalLM, ShoptasksForMaskedLM, preset_config, build_model
from .tokenizer import train_tokenizer
from .data import read_texts
from .sample import make_shop, write_shop
from .trainer import TrainConfig, Trainer
from .pretraining import PretrainConfig, pretrain, generate, load_run
from .hookspecs import hookimpl
from .plugins import register_plugin, task_registry
from .tasks import Task, ClassificationTask, load_task
from .finetune import FinetuneConfig, finetune, evaluate, predict, load_finetuned
from .generation import GenerationTask
from .ranking import RankingTask, recommend
