"""Pretrained image backbone weights: resolve ``backbone.init_cfg`` before the backbone is built.

mmdet's backbones load pretrained weights through mmengine's
``init_cfg=dict(type='Pretrained', checkpoint=...)`` when the Runner calls ``init_weights()``;
this module does not load anything itself. It decides, once, at build time:

- ``checkpoint`` is a local file: kept; the backbone's ``frozen_stages`` / ``norm_eval`` (the
  field's recipe freezes the stem and stage 1 and keeps BatchNorm statistics) stay as given.
- ``checkpoint`` is ``torchvision://NAME`` or an ``http(s)://`` URL: the URL (torchvision names
  through mmengine's own table, so torchvision need not be installed) is looked up in torch's
  hub cache (``torch.hub.get_dir()/checkpoints``, where ``torch.hub`` and mmengine store
  downloads); a cached file is used. Without a cached file the URL is handed to mmengine, which
  downloads it, only when ``allow_download`` is True.
- a local path that does not exist: ``FileNotFoundError`` naming it (a typo must not silently
  train from scratch).
- otherwise (no ``init_cfg``, or a URL that is neither cached nor allowed to download): a
  warning says training starts from scratch, ``init_cfg`` is dropped, and nothing is frozen
  (``frozen_stages=-1``, ``norm_eval=False`` for backbones that take them, also when the config
  leaves them to mmdet's defaults): freezing random weights would keep a random stem.
"""
import copy
import logging
import os
import os.path as osp
from typing import Optional, Tuple
from urllib.parse import urlparse

import torch
from mmengine.logging import print_log

_REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://')


def _torchvision_url(name: str) -> str:
    """URL of a torchvision ImageNet checkpoint, from mmengine's table (no torchvision)."""
    import mmengine
    table = mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))
    if name not in table:
        raise KeyError(f'torchvision://{name}: unknown name; mmengine knows '
                       f'{sorted(table)[:8]}...')
    return table[name]


def remote_url(checkpoint: str) -> str:
    """The http(s) URL behind a ``torchvision://`` name or an URL."""
    if checkpoint.startswith('torchvision://'):
        return _torchvision_url(checkpoint[len('torchvision://'):])
    return checkpoint


def hub_cache_path(url: str) -> str:
    """Where torch.hub (and mmengine's ``load_url``) keeps the download of ``url``."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def fetch(checkpoint: str) -> str:
    """Download ``checkpoint`` (URL or ``torchvision://NAME``) into the hub cache; returns the
    local path. Used by docker/Dockerfile so the GPU image starts from ImageNet weights."""
    url = remote_url(checkpoint)
    path = hub_cache_path(url)
    if not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        torch.hub.download_url_to_file(url, path)
    return path


def _locate(checkpoint: str, allow_download: bool) -> Tuple[Optional[str], str]:
    """(checkpoint to give mmengine or None, reason when None)."""
    if not checkpoint.startswith(_REMOTE_PREFIXES):
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'backbone.init_cfg.checkpoint: no file {checkpoint!r}; '
                                    f'give an existing path, an URL or torchvision://NAME, or '
                                    f'leave init_cfg out to train from scratch')
        return checkpoint, ''
    url = remote_url(checkpoint)
    cached = hub_cache_path(url)
    if osp.isfile(cached):
        return cached, ''
    if allow_download:
        return url, ''
    return None, (f'{checkpoint} is not in the torch hub cache ({cached}) and downloading is '
                  f'off (download_pretrained=False)')


def resolve_pretrained_backbone(backbone: dict, allow_download: bool = False) -> dict:
    """A copy of the backbone config that loads available weights or trains from scratch.

    Args:
        backbone: mmdet backbone config, optionally with ``init_cfg=dict(type='Pretrained',
            checkpoint=PATH | URL | 'torchvision://NAME')``.
        allow_download: hand an uncached URL to mmengine, which downloads it.

    Returns:
        The config to build. With weights: ``init_cfg.checkpoint`` points at them (a cached
        download is given by its local path). Without: no ``init_cfg``, ``frozen_stages=-1``,
        ``norm_eval=False`` (for backbones that take those arguments), and a logged warning.
    """
    cfg = copy.deepcopy(dict(backbone))
    init = cfg.get('init_cfg')
    name = cfg.get('type', 'backbone')
    if init is not None and (not isinstance(init, dict) or init.get('type') != 'Pretrained'):
        return cfg  # other initialisers (e.g. Kaiming, or a list of them): nothing to resolve
    checkpoint = init.get('checkpoint') if init is not None else None
    if checkpoint:
        found, reason = _locate(str(checkpoint), allow_download)
        if found is not None:
            cfg['init_cfg'] = dict(init, checkpoint=found)
            print_log(f'image backbone {name}: pretrained weights from {found} '
                      f'(frozen_stages={cfg.get("frozen_stages")}, '
                      f'norm_eval={cfg.get("norm_eval")})', logger='current')
            return cfg
    else:
        reason = 'no pretrained checkpoint given (backbone.init_cfg)'
    cfg.pop('init_cfg', None)
    # set even when the config leaves them out: mmdet's ResNet defaults to norm_eval=True
    accepted = _init_arguments(name)
    unfrozen = {'frozen_stages': -1, 'norm_eval': False}
    for key, value in unfrozen.items():
        if key in accepted:
            cfg[key] = value
    print_log(f'image backbone {name}: {reason}; training starts from scratch (random '
              f'weights) with nothing frozen ('
              + ', '.join(f'{k}={v}' for k, v in unfrozen.items() if k in accepted) + ')',
              logger='current', level=logging.WARNING)
    return cfg


def _init_arguments(type_name: str) -> set:
    """Constructor argument names of a registered backbone (empty if unknown)."""
    import inspect

    from fusion_moe.registry import MODELS
    cls = MODELS.get(type_name)
    if cls is None:
        return set()
    return set(inspect.signature(cls.__init__).parameters)
