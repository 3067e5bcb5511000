# The CPU demo detector (configs/demo/detector_cpu.py) with the six cameras alone: the same data,
# pipeline, grid, trunk, head and schedule, and only the camera encoder (the fuser sees one map).
# One of the single-sensor models of the modality check (tools/modality_check.py):
#   python tools/train.py configs/demo/detector_cpu_camera.py --work-dir DIR
_base_ = ['./detector_cpu.py']

model = dict(encoders=dict(_delete_=True, camera={{_base_.model.encoders.camera}}))
