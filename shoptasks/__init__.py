__version__ = "0.1.0"

# The public API, imported on first use (PEP 562) so that `import shoptasks` and `shoptasks --help` do not import
# torch and transformers. Importing `shoptasks.model` (which every loading function does) registers model_type
# "shoptasks" with transformers' Auto classes; to load a run with `AutoModel...from_pretrained` directly, import it.
import importlib, sys, types

_API = dict(errors=["ShoptasksError"], model=["ShoptasksConfig", "ShoptasksForCausalLM", "ShoptasksForMaskedLM",
                                              "preset_config", "build_model"],
            tokenizer=["train_tokenizer"], data=["read_texts"], sample=["make_shop", "write_shop"],
            trainer=["TrainConfig", "Trainer"], pretraining=["PretrainConfig", "pretrain", "generate", "load_run"],
            hookspecs=["hookimpl"], plugins=["register_plugin", "task_registry", "kind_registry", "load_task"],
            tasks=["Task", "ClassificationTask"],
            finetune=["FinetuneConfig", "finetune"], inference=["evaluate", "predict", "load_finetuned", "export"],
            generation=["GenerationTask"], ranking=["RankingTask", "recommend"])
_MODULE = {name: module for module, names in _API.items() for name in names}
__all__ = list(_MODULE)

def __getattr__(name):
    if name not in _MODULE: raise AttributeError(f"module 'shoptasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE[name]}"), name)
    globals()[name] = value
    return value

def __dir__(): return sorted([*globals(), *__all__])

class _Package(types.ModuleType):
    "The package, which keeps an API function when the import system binds a submodule of the same name (finetune)."
    def __setattr__(self, name, value):
        if not (name in _MODULE and isinstance(value, types.ModuleType)): super().__setattr__(name, value)

sys.modules[__name__].__class__ = _Package
