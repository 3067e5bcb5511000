"""The robustness benchmark's own overhead: degradation time per sample as a share of model
inference time (target <= 5 %), one torch thread, alternating, medians.

For each of ``--samples`` validation samples of the config's test set, the loading pipeline runs
once (what every condition reads anyway), then, round after round and alternating, the clock
measures (a) the model's inference on that sample (``test_step``: data preprocessor, forward,
boxes; batch of one) and (b) each runnable corruption of the suite (``--suite``, at
``--severity``, or the suite's highest if it has no such severity) applied to a copy of the
loaded sample (the copy
is made before the clock starts; what is timed is what the test pipeline adds per sample).
Per corruption the figure is the median degradation time over rounds x samples divided by the
median inference time; ``suite_share`` is their mean (a suite run spends that share on
degradations, on top of inference), ``worst_share`` the largest.

    python benchmarks/robustness_overhead.py [--config configs/demo/detector_cpu.py]
        [--checkpoint CKPT] [--samples 4] [--rounds 5] [--severity 3] [--suite default]
        [--json PATH]

Without ``--checkpoint`` the model is randomly initialised (its inference time is that of a
trained one up to the box count after the score threshold; give a checkpoint to time exactly
what the benchmark runs).
"""
import argparse
import copy
import os
import statistics
import sys
import time
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, REPO)

import cv2  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
cv2.setNumThreads(1)

from mmengine.config import Config  # noqa: E402
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import fusion_moe  # noqa: E402,F401
from fusion_moe.degradation.pipeline import PACK_TYPES  # noqa: E402
from fusion_moe.engine import load_model_weights  # noqa: E402
from fusion_moe.evaluation.robustness import get_suite  # noqa: E402
from fusion_moe.registry import DATASETS, MODELS, TRANSFORMS  # noqa: E402

sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
sys.path.insert(0, os.path.join(REPO, 'tools'))
from _common import headline, write_json  # noqa: E402
from train import ensure_synthetic_data  # noqa: E402

TARGET_SHARE = 0.05


def loaded_samples(cfg: Config, count: int):
    """(loaded results dicts before packing, the packing transform) of the first samples."""
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    pipeline = list(dataset_cfg.pop('pipeline'))
    at = next(i for i, t in enumerate(pipeline) if t['type'] in PACK_TYPES)
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=pipeline[:at]))
    return [dataset[i] for i in range(min(count, len(dataset)))], Compose(pipeline[at:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=os.path.join(REPO, 'configs/demo/detector_cpu.py'))
    parser.add_argument('--checkpoint')
    parser.add_argument('--data-root', help='read the data from this root instead')
    parser.add_argument('--samples', type=int, default=4)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--severity', type=int, default=3)
    parser.add_argument('--suite', default='default')
    parser.add_argument('--json', help='write the figures to this JSON file')
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    cfg = Config.fromfile(args.config)
    if args.data_root:
        from fusion_moe.evaluation import point_data_at
        point_data_at(cfg, args.data_root)
    elif cfg.get('synthetic_data'):
        ensure_synthetic_data(**cfg.synthetic_data)  # the demo's set, made if missing
    init_default_scope('mmdet3d')
    samples, pack = loaded_samples(cfg, args.samples)
    model = MODELS.build(cfg.model).eval()
    if args.checkpoint:
        load_model_weights(model, args.checkpoint)
    suite = get_suite(args.suite)
    severity = args.severity if args.severity in suite.severities else suite.severities[-1]
    corruptions = {spec.corruption: [TRANSFORMS.build(dict(d)) for d in spec.degradations]
                   for spec in suite.conditions(severities=[severity]) if not spec.is_clean}

    inference: List[float] = []
    degradation: Dict[str, List[float]] = {name: [] for name in corruptions}
    with torch.no_grad():
        for round_ in range(args.rounds + 1):  # round 0 warms up (numba, allocator)
            for sample in samples:
                batch = pseudo_collate([pack(copy.deepcopy(sample))])
                start = time.perf_counter()
                model.test_step(batch)
                if round_:
                    inference.append(time.perf_counter() - start)
                for name, transforms in corruptions.items():
                    data = copy.deepcopy(sample)
                    start = time.perf_counter()
                    for transform in transforms:
                        data = transform(data)
                    if round_:
                        degradation[name].append(time.perf_counter() - start)

    infer_s = statistics.median(inference)
    per_corruption = {name: {'median_ms': 1e3 * statistics.median(times),
                             'share': statistics.median(times) / infer_s}
                      for name, times in degradation.items()}
    shares = [v['share'] for v in per_corruption.values()]
    out = {
        'config': os.path.relpath(args.config, REPO), 'checkpoint': args.checkpoint,
        'suite': suite.name, 'severity': severity, 'samples': len(samples),
        'rounds': args.rounds,
        'points_per_sample': [int(s['points'].shape[0]) for s in samples],
        'image_hw': list(samples[0]['img'][0].shape[:2]),
        'inference_ms_per_sample': 1e3 * infer_s, 'per_corruption': per_corruption,
        'suite_share': sum(shares) / len(shares), 'worst_share': max(shares),
    }
    print(f'inference {out["inference_ms_per_sample"]:.1f} ms/sample '
          f'({len(samples)} samples x {args.rounds} rounds, 1 thread)')
    for name, v in per_corruption.items():
        print(f'  {name:24s} {v["median_ms"]:8.2f} ms  {100 * v["share"]:5.2f} % of inference')
    write_json(args.json, out, {'suite_share': headline(out['suite_share'], f'<= {TARGET_SHARE}'),
                                'worst_share': headline(out['worst_share'])}, load_at_start)


if __name__ == '__main__':
    main()
