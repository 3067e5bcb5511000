"""The config one cell trains and is evaluated with, written into the cell's directory.

The model config with the grid's and the cell's overrides merged (mmengine
``Config.merge_from_dict``, the ``--cfg-options`` semantics), plus what the runner needs of
every cell:

- no validation during training: the robustness tool scores the trained model clean and under
  every condition, so the train loop's own validation would only repeat the clean run
  (``val_dataloader``, ``val_cfg`` and ``val_evaluator`` are set to None together, as mmengine
  requires; ``test_*`` stay for the robustness tool);
- a checkpoint after every epoch (``max_keep_ckpts=1``) so an interrupted cell resumes from its
  last epoch (``tools/train.py --resume``);
- ``max_iters``: a smoke run of N iterations (``ResumableIterBasedTrainLoop``, one checkpoint
  at the end) instead of the config's epochs.

The file is the resolved config (``Config.dump``), so it records exactly what the cell ran.
"""
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.config import Config


def cell_config(model_config: str, options: Dict[str, Any],
                max_iters: Optional[int] = None) -> Config:
    """The cell's resolved config (see the module docstring).

    Raises FileNotFoundError naming ``model_config`` when it does not exist, and a KeyError
    naming the key when the config has no ``train_cfg`` or checkpoint hook.
    """
    if not osp.isfile(model_config):
        raise FileNotFoundError(f'model config {model_config} does not exist')
    cfg = Config.fromfile(model_config)
    if options:
        cfg.merge_from_dict(dict(options))
    if 'train_cfg' not in cfg:
        raise KeyError(f'{model_config}: no train_cfg to train the cell with')
    hooks = cfg.get('default_hooks') or {}
    if 'checkpoint' not in hooks:
        raise KeyError(f'{model_config}: default_hooks.checkpoint is missing (the cell '
                       'evaluates and resumes from its checkpoints)')
    cfg.val_dataloader, cfg.val_cfg, cfg.val_evaluator = None, None, None
    checkpoint = dict(hooks['checkpoint'])
    if max_iters is not None:
        if max_iters < 1:
            raise ValueError(f'max_iters must be >= 1, got {max_iters}')
        cfg.train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=int(max_iters))
        checkpoint.update(interval=int(max_iters), by_epoch=False, max_keep_ckpts=1)
    else:
        train_cfg = dict(cfg.train_cfg)
        train_cfg.pop('val_interval', None)
        train_cfg.pop('val_begin', None)
        cfg.train_cfg = train_cfg
        checkpoint.update(interval=1, max_keep_ckpts=1)
    cfg.default_hooks.checkpoint = checkpoint
    return cfg


def write_cell_config(model_config: str, options: Dict[str, Any], out_path: str,
                      max_iters: Optional[int] = None) -> str:
    """Write :func:`cell_config` to ``out_path`` (a ``.py`` file); returns the path."""
    cfg = cell_config(model_config, options, max_iters)
    cfg.dump(out_path)
    return out_path
