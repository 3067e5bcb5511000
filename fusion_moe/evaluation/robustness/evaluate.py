"""The robustness benchmark's orchestrator: one model, every condition, devkit scores, report.

Like the devkit's ``DetectionEval``, :class:`RobustnessEval` works in numbered steps:

1. build the mmengine Runner once: the model with its checkpoint (weights-only loading, checked
   against the model), the test dataset (info files read once), the hooks that capture
   routing; the evaluator only formats predictions (mmdet3d's submission format,
   ``format_only``);
2. load the devkit's tables once (:class:`~.devkit_scoring.DevkitScorer`);
3. for each condition (clean first): put its degradations into the test pipeline (on the fly,
   after loading, so LiDAR corruptions reach every sweep), run the test loop, score the
   submission with the devkit, merge the routing captures;
4. the real-condition subsets (day / night / rain of the evaluated split) are scored from the
   clean predictions with the devkit's custom splits; a subset lacking classes also gets
   mAP / NDS over the classes it has;
5. robustness scores of every suite (``scoring.score_results``), against ``--baseline``;
6. ``results.json``, then ``report.md`` and the plots made from that file alone (the same
   function ``tools/robustness.py --report`` calls).

Only the data loading of each sample is repeated per condition (the degradation acts on the
loaded sensor data); the model, checkpoint, info files and devkit tables are set up once.
"""
import contextlib
import copy
import json
import logging
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional, Sequence

from mmdet3d.evaluation.metrics import NuScenesMetric
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.runner import Runner

from fusion_moe.degradation import insert_degradations
from fusion_moe.engine import load_model_weights
from fusion_moe.engine.hooks import ProgressBarHook, RoutingCaptureHook, RoutingStatisticsHook
from fusion_moe.models.moe import ModalityReliabilityGate, find_moe_layers

from .class_presence import absent_classes, present_class_metrics
from .conditions import REAL_SUBSETS, real_condition_subsets
from .context_mode import apply_context_mode
from .data_classes import ConditionResult, ModelInfo, RobustnessResults, load_results
from .devkit_scoring import DevkitScorer
from .report import make_report
from .routing_analysis import condition_routing
from .scoring import baseline_entry, score_results
from .suites import ConditionSpec, Suite

RESULTS_NAME = 'results.json'
CONSOLE_LOG = 'console.log'
PREDICTIONS = osp.join('pred_instances_3d', 'results_nusc.json')


def _nuscenes_metric(runner: Runner) -> NuScenesMetric:
    metrics = [m for m in runner.test_loop.evaluator.metrics if isinstance(m, NuScenesMetric)]
    if len(metrics) != 1:
        raise ValueError('test_evaluator must hold exactly one NuScenesMetric (or '
                         f'FusionNuScenesMetric); it has {runner.test_loop.evaluator.metrics}')
    return metrics[0]


def _hook(runner: Runner, kind: type):
    found = [h for h in runner.hooks if isinstance(h, kind)]
    if not found:
        raise RuntimeError(f'the runner has no {kind.__name__} (it was added to custom_hooks)')
    return found[0]


@contextlib.contextmanager
def _console_to_file(runner: Runner, path: str, quiet: bool):
    """While the loops run, keep the console for progress bars and warnings.

    The logger's console handlers show WARNING and above, on stderr; everything written to
    the process's stdout (file descriptor 1: mmdet3d's prints and progress bars, the data
    workers') goes to ``path``. The runner's log file keeps every INFO line.
    """
    if not quiet:
        yield
        return
    handlers = [h for h in runner.logger.handlers
                if type(h) is logging.StreamHandler]  # the console; FileHandler subclasses it
    saved = [(h, h.level, h.stream) for h in handlers]
    for h in handlers:
        h.setLevel(logging.WARNING)
        h.setStream(sys.stderr)
    sys.stdout.flush()
    stdout_fd = os.dup(1)
    try:
        with open(path, 'a') as sink:
            os.dup2(sink.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(stdout_fd, 1)
    finally:
        os.close(stdout_fd)
        for h, level, stream in saved:
            h.setLevel(level)
            h.setStream(stream)


class RobustnessEval:
    """Evaluate one checkpoint on clean data, every condition and the real subsets.

    Args:
        cfg: the model's config (not modified; a copy is adapted).
        config_path, checkpoint: recorded in ``results.json``.
        work_dir: output directory (``results.json``, ``report.md``, plots, and per condition
            ``conditions/<name>/`` with the submission and the devkit's files).
        suite: the suite the conditions come from (recorded, with its notes).
        conditions: ``clean`` first, then corruption conditions (``Suite.conditions``).
        seed: the degradation seed (every sample is degraded from ``(seed, sample)``).
        context_mode: ``off`` / ``oracle`` / ``estimated`` to override the routers' context
            mode; None keeps the model's.
        baseline: path of another model's ``results.json`` for RRA and CE; None for none.
        real_subsets: real-condition subsets to score (names in ``REAL_SUBSETS``); () for none.
        quiet: keep INFO logs off the console while the loops run (they stay in the log file).
        strict: refuse a checkpoint whose weights do not match the model
            (``fusion_moe.engine.load_model_weights``, weights-only unpickling).
        loaded_checkpoint: the checkpoint file's content if the caller has already read it.
    """

    def __init__(self, cfg: Config, config_path: str, checkpoint: str, work_dir: str,
                 suite: Suite, conditions: Sequence[ConditionSpec], seed: int = 0,
                 context_mode: Optional[str] = None, baseline: Optional[str] = None,
                 real_subsets: Sequence[str] = tuple(REAL_SUBSETS), quiet: bool = True,
                 strict: bool = True, loaded_checkpoint=None) -> None:
        if not conditions or not conditions[0].is_clean:
            raise ValueError('conditions must start with clean (the reference of every score)')
        self.cfg = copy.deepcopy(cfg)
        self.config_path = config_path
        self.checkpoint = checkpoint
        self.work_dir = work_dir
        self.suite = suite
        self.conditions = list(conditions)
        self.seed = seed
        self.context_mode = context_mode
        self.baseline_path = baseline
        self.baseline = load_results(baseline) if baseline else None  # fail before the run
        self.real_subsets = tuple(real_subsets)
        self.quiet = quiet
        self.strict = strict
        self.loaded_checkpoint = loaded_checkpoint

    # --------------------------------------------------------------------------- step 1
    def build_runner(self) -> Runner:
        cfg = self.cfg
        cfg.work_dir = self.work_dir
        cfg.load_from, cfg.resume = None, False  # loaded by load_model_weights, checked
        loader = cfg.test_dataloader
        if loader.get('num_workers', 0) > 0:
            loader.persistent_workers = False  # workers must see each condition's pipeline
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for metric in evaluators:
            metric['format_only'] = True  # scored by DevkitScorer, tables loaded once
            metric['jsonfile_prefix'] = osp.join(self.work_dir, 'conditions', 'clean')
        hooks = [h for h in cfg.get('custom_hooks', []) or []]
        if not any(h.get('type') == 'RoutingStatisticsHook' for h in hooks):
            hooks.append(dict(type='RoutingStatisticsHook'))
        hooks += [dict(type='RoutingCaptureHook'), dict(type='ProgressBarHook', leave=False)]
        cfg.custom_hooks = hooks
        runner = Runner.from_cfg(cfg)
        load_model_weights(runner.model, self.checkpoint, strict=self.strict,
                           checkpoint=self.loaded_checkpoint)
        self.loaded_checkpoint = None
        _nuscenes_metric(runner)  # checks the evaluator
        self.base_pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        return runner

    def model_info(self, runner: Runner) -> ModelInfo:
        mode, source = apply_context_mode(runner.model, self.context_mode)
        model = getattr(runner.model, 'module', runner.model)
        gates = [n for n, m in model.named_modules() if isinstance(m, ModalityReliabilityGate)]
        return ModelInfo(config=self.config_path, checkpoint=self.checkpoint, context_mode=mode,
                         context_mode_source=source,
                         moe_layers=[n for n, _ in find_moe_layers(model)],
                         reliability_gates=gates)

    # --------------------------------------------------------------------------- step 3
    def run_condition(self, runner: Runner, scorer: DevkitScorer, spec: ConditionSpec,
                      clean_top1: Optional[dict], clean_keys: Optional[dict] = None
                      ) -> ConditionResult:
        start = time.time()
        out_dir = osp.join(self.work_dir, 'conditions', spec.name)
        dataset = runner.test_loop.dataloader.dataset
        if not hasattr(dataset, 'pipeline'):
            raise TypeError(f'test dataset {type(dataset).__name__} has no pipeline to degrade')
        dataset.pipeline = Compose(insert_degradations(self.base_pipeline, spec.degradations)
                                   if spec.degradations else copy.deepcopy(self.base_pipeline))
        _nuscenes_metric(runner).jsonfile_prefix = out_dir
        capture = _hook(runner, RoutingCaptureHook)
        capture.keep_top1, capture.reference = spec.is_clean, clean_top1
        capture.reference_keys = clean_keys
        stats = _hook(runner, RoutingStatisticsHook)
        stats.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        _hook(runner, ProgressBarHook).desc = spec.name
        with _console_to_file(runner, osp.join(self.work_dir, CONSOLE_LOG), self.quiet):
            runner.test_loop.run()
        summary, counts = scorer.score(osp.join(out_dir, PREDICTIONS), out_dir)
        return ConditionResult(
            name=spec.name, kind='clean' if spec.is_clean else 'corruption', devkit=summary,
            gt_class_counts=counts,
            routing=condition_routing(stats.last_summary, capture.last_capture),
            corruption=spec.corruption, severity=spec.severity,
            degradations=[dict(d) for d in spec.degradations],
            present_classes=(present_class_metrics(summary, counts) if absent_classes(counts)
                             else None),
            num_samples=len(dataset), wall_time_s=round(time.time() - start, 2))

    # --------------------------------------------------------------------------- step 4
    def run_subsets(self, scorer: DevkitScorer, ann_file: str) -> Dict[str, ConditionResult]:
        clean_predictions = osp.join(self.work_dir, 'conditions', 'clean', PREDICTIONS)
        out: Dict[str, ConditionResult] = {}
        self.subsets = real_condition_subsets(ann_file, self.real_subsets)
        for name, subset in self.subsets.items():
            if not subset['scenes']:
                continue  # recorded in results.data['real_subsets'] with no scene
            start = time.time()
            cond = f'real_{name}'
            summary, counts = scorer.score(
                clean_predictions, osp.join(self.work_dir, 'conditions', cond),
                subset=(name, subset['scenes']))
            out[cond] = ConditionResult(
                name=cond, kind='subset', devkit=summary, gt_class_counts=counts,
                present_classes=(present_class_metrics(summary, counts)
                                 if absent_classes(counts) else None),
                subset=subset, num_samples=subset['num_samples'],
                wall_time_s=round(time.time() - start, 2))
        return out

    # --------------------------------------------------------------------------- run
    def run(self) -> RobustnessResults:
        """Steps 1-6; returns the results as written to ``<work_dir>/results.json``."""
        from tqdm import tqdm
        start = time.time()
        os.makedirs(self.work_dir, exist_ok=True)
        runner = self.build_runner()                                            # 1
        model = self.model_info(runner)
        runner.call_hook('before_run')
        dataset = runner.test_loop.dataloader.dataset
        scorer = DevkitScorer(dataset.data_root, dataset.metainfo['version'])   # 2
        setup_s = time.time() - start
        print_log(f'robustness: {len(self.conditions)} condition(s) of suite '
                  f'{self.suite.name!r} on {len(dataset)} samples ({scorer.eval_set}); '
                  f'context mode {model.context_mode}', logger='current')
        conditions: Dict[str, ConditionResult] = {}
        clean_top1 = clean_keys = None
        for spec in tqdm(self.conditions, desc='conditions', unit='condition'):  # 3
            conditions[spec.name] = self.run_condition(runner, scorer, spec, clean_top1,
                                                       clean_keys)
            if spec.is_clean:
                clean = _hook(runner, RoutingCaptureHook).last_capture
                clean_top1, clean_keys = clean.get('top1'), clean.get('token_keys')
        runner.call_hook('after_run')
        conditions.update(self.run_subsets(scorer, dataset.ann_file))           # 4
        results = RobustnessResults(
            model=model,
            suite=self.suite.serialize(self.conditions),
            seed=self.seed,
            data={'data_root': dataset.data_root, 'version': scorer.version,
                  'eval_set': scorer.eval_set, 'num_samples': len(dataset),
                  'ann_file': dataset.ann_file, 'real_subsets': self.subsets},
            conditions=conditions)
        if self.baseline is not None:
            results.baseline = baseline_entry(self.baseline, self.baseline_path)
        results.scores = score_results(results, results.baseline)               # 5
        results.timing = {'setup_s': round(setup_s, 2),
                          'total_s': round(time.time() - start, 2)}
        path = osp.join(self.work_dir, RESULTS_NAME)                            # 6
        with open(path, 'w') as f:
            json.dump(results.serialize(), f, indent=1)
        self.written = {'results': path, **make_report(path, self.work_dir)}
        return results
