_base_ = ['./fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py']
model = dict(encoders=dict(_delete_=True, lidar={{_base_.lidar_encoder}}))
