"""Scoring with the official nuScenes devkit, its tables loaded once for every condition.

mmdet3d's ``NuScenesMetric`` builds a new ``NuScenes`` for every evaluation (seconds on mini,
about half a minute on trainval); the benchmark scores tens of conditions, so it formats the
predictions with mmdet3d (``format_only``) and scores them here with the devkit's own
``DetectionEval`` on one ``NuScenes`` object. The evaluation is the devkit's, unchanged: its
``main`` writes ``metrics_summary.json`` and ``metrics_details.json`` and returns the summary.

Subsets (real conditions) use the devkit's custom splits (nuscenes-devkit >= 1.1.11): a
``splits.json`` with the subset's scene names, which the devkit reads from
``<dataroot>/<version>/splits.json``. So that the user's dataset directory is never written,
the devkit gets a shallow copy of the ``NuScenes`` object whose ``dataroot`` is a folder of the
work dir holding only that ``splits.json``; during evaluation the devkit reads ``dataroot``
only for that file (tables are already in memory; files are read only by its render functions,
which are not called).
"""
import contextlib
import copy
import io
import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple

from nuscenes import NuScenes
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.constants import DETECTION_NAMES
from nuscenes.eval.detection.evaluate import DetectionEval

SUMMARY_NAME = 'metrics_summary.json'
#: The evaluated split per version, as mmdet3d's NuScenesMetric chooses it.
EVAL_SET_OF_VERSION = {'v1.0-mini': 'mini_val', 'v1.0-trainval': 'val'}


class DevkitScorer:
    """The devkit's detection evaluation of submissions on one nuScenes-format root.

    Args:
        data_root: the root holding ``<version>/`` tables.
        version: ``'v1.0-mini'`` or ``'v1.0-trainval'``.
        eval_version: the devkit's evaluation config (``detection_cvpr_2019``).
    """

    def __init__(self, data_root: str, version: str,
                 eval_version: str = 'detection_cvpr_2019') -> None:
        if version not in EVAL_SET_OF_VERSION:
            raise ValueError(f'no evaluation split for nuScenes version {version!r}; '
                             f'known: {sorted(EVAL_SET_OF_VERSION)}')
        self.data_root = data_root
        self.version = version
        self.eval_set = EVAL_SET_OF_VERSION[version]
        self.eval_version = eval_version
        self.config = config_factory(eval_version)
        with contextlib.redirect_stdout(io.StringIO()):
            self.nusc = NuScenes(version=version, dataroot=data_root, verbose=False)

    def score(self, result_path: str, output_dir: str,
              subset: Optional[Tuple[str, Sequence[str]]] = None) -> Tuple[dict, Dict[str, int]]:
        """Evaluate ``result_path`` (a nuScenes submission JSON).

        Args:
            result_path: ``results_nusc.json`` covering every sample of the evaluated split.
            output_dir: where the devkit writes ``metrics_summary.json`` and details.
            subset: ``(name, scene names)`` to evaluate only those scenes (a custom split);
                None evaluates the whole split.
        Returns:
            ``(metrics_summary, gt_counts)``: the devkit's summary, and the number of
            ground-truth boxes per detection class it evaluated (after its range and
            points-per-box filters).
        """
        os.makedirs(output_dir, exist_ok=True)
        nusc, eval_set = self.nusc, self.eval_set
        if subset is not None:
            nusc, eval_set = self._custom_split(subset[0], subset[1], output_dir)
        # the devkit prints its tables and shows a loading bar even when not verbose
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluation = DetectionEval(nusc, config=self.config, result_path=result_path,
                                       eval_set=eval_set, output_dir=output_dir,
                                       verbose=False)
            counts = Counter(box.detection_name for box in evaluation.gt_boxes.all)
            evaluation.main(render_curves=False)
        with open(osp.join(output_dir, SUMMARY_NAME)) as f:  # the devkit's own file
            summary = json.load(f)
        return summary, {name: int(counts.get(name, 0)) for name in DETECTION_NAMES}

    def _custom_split(self, name: str, scenes: Sequence[str], output_dir: str
                      ) -> Tuple[NuScenes, str]:
        if not scenes:
            raise ValueError(f'subset {name!r} has no scene to evaluate')
        known = {s['name'] for s in self.nusc.scene}
        unknown = sorted(set(scenes) - known)
        if unknown:
            raise KeyError(f'subset {name!r} names scenes missing from {self.version}: {unknown}')
        split_name = f'fusion_moe_subset_{name}'
        split_root = osp.join(output_dir, 'devkit_split')
        os.makedirs(osp.join(split_root, self.version), exist_ok=True)
        with open(osp.join(split_root, self.version, 'splits.json'), 'w') as f:
            json.dump({split_name: list(scenes)}, f, indent=2)
        view = copy.copy(self.nusc)  # shares the loaded tables
        view.dataroot = split_root
        return view, split_name
