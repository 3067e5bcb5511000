# Small camera + LiDAR + radar FusionDetector for 2 CPU cores on the synthetic nuScenes set:
#   python tools/train.py configs/demo/detector_cpu.py --work-dir DIR
# makes data/synth and its info files if missing, trains on mini_train, scores mini_val with
# the nuScenes devkit and leaves DIR/nuscenes_eval/metrics_summary.json.
# The dense detector: the shared CPU demo base with the concat-conv fuser as its fusion.
_base_ = ['../_base_/demo/cpu_detector.py']

model = dict(fuser=dict(type='ConcatConvFuser', out_channels=32))
