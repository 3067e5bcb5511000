"""Point a config's datasets and nuScenes evaluators at directories (read and write)."""
from mmengine.config import Config

_EVALUATOR_KEYS = ('val_evaluator', 'test_evaluator')


def keep_eval_outputs_in(cfg: Config, out_dir: str) -> None:
    """Set ``jsonfile_prefix = out_dir`` on each evaluator metric that has it unset.

    mmdet3d's NuScenesMetric otherwise writes the submission and the devkit's
    ``metrics_summary.json`` into a temporary directory that it deletes.
    """
    for key in _EVALUATOR_KEYS:
        evaluator = cfg.get(key)
        if evaluator is None:
            continue
        metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
        for metric in metrics:
            if 'NuScenesMetric' in str(metric.get('type', '')) and \
                    metric.get('jsonfile_prefix') is None:
                metric['jsonfile_prefix'] = out_dir


def point_data_at(cfg: Config, data_root: str) -> None:
    """Read every dataloader and evaluator from another nuScenes-format root.

    Sets ``dataset.data_root`` of the train/val/test dataloaders (of the wrapped dataset for
    wrappers such as ``CBGSDataset``), ``data_root`` and ``info_path`` (same file name, under
    the new root) of the GT-sampling database in their pipelines, and ``data_root`` plus
    ``ann_file`` of the nuScenes evaluators, e.g. to train a nuScenes-size config on the
    synthetic set at ``data/synth``.
    """
    import os.path as osp
    root = data_root if data_root.endswith('/') else data_root + '/'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        dataset = loader.get('dataset') if loader is not None else None
        while dataset is not None and 'data_root' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']  # CBGSDataset and other wrappers
        if dataset is None:
            continue
        dataset['data_root'] = root
        for transform in dataset.get('pipeline') or []:
            sampler = transform.get('db_sampler')
            if sampler is not None:
                sampler['data_root'] = root
                sampler['info_path'] = root + osp.basename(sampler['info_path'])
    for key in _EVALUATOR_KEYS:
        evaluator = cfg.get(key)
        if evaluator is None:
            continue
        for metric in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]:
            if 'data_root' in metric:
                metric['data_root'] = root
            if metric.get('ann_file'):
                metric['ann_file'] = root + osp.basename(metric['ann_file'])
