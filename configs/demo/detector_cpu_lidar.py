# The CPU demo detector (configs/demo/detector_cpu.py) with LiDAR alone: the same data,
# pipeline, grid, trunk, head and schedule, and only the lidar encoder (the fuser sees one map).
# One of the single-sensor models of the modality check (tools/modality_check.py):
#   python tools/train.py configs/demo/detector_cpu_lidar.py --work-dir DIR
_base_ = ['./detector_cpu.py']

model = dict(encoders=dict(_delete_=True, lidar={{_base_.model.encoders.lidar}}))
