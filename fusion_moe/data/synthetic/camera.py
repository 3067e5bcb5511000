"""Camera rendering: a pinhole image of the scene with exact occlusion, shading, sky, road,
night lighting and rain (numpy + OpenCV; written by hand because no maintained CPU library
renders a box world with per-pixel depth fast enough without a GPU).

Method: the camera is rigidly mounted and the street is straight and flat, so the sky and the
ground under every pixel (where its ray meets z = 0, in the ego frame) are computed once per
camera; a frame only shifts the ground pattern by the ego's travel. Buildings are painted far to
near (they stand behind every object, by the street layout). Objects and lamp posts are drawn
face by face with ``cv2.fillPoly`` into a per-pixel inverse-depth z-buffer: inverse depth is
affine in pixel coordinates over a planar face, so each face's depth is an outer sum over its
bounding box. Faces crossing the near plane are clipped first.

Conditions: night darkens the scene, adds lamp and vehicle lights with glow, the ego's headlight
beam and strong sensor noise; rain darkens the road (wet), greys the sky, shortens the haze
distance and adds rain streaks.
"""
import functools
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

from .geometry import box_corners, invert_pose, transform_points
from .rig import CameraModel
from .street import DASH_ON_M, DASH_PERIOD_M, SURFACE_COLOUR_BGR, surface_at
from .world import STATIC_OWNER, WorldParts

NEAR_M = 0.1
MAX_GROUND_DEPTH_M = 400.0
JPEG_QUALITY = 90
LUMA_SHARE = 0.7
# faces of box_corners(): corner indices (polygon order) and outward normal in the box frame
_FACES = np.array([[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4],
                   [1, 3, 7, 5]])
_FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]],
                         dtype=np.float64)
_SUN = np.array([0.45, 0.3, 0.84]) / np.linalg.norm([0.45, 0.3, 0.84])


@dataclass(frozen=True)
class Look:
    """Per-condition appearance constants."""
    sky_top: Tuple[float, float, float]
    sky_horizon: Tuple[float, float, float]
    haze_bgr: Tuple[float, float, float]
    haze_m: float
    ambient: float
    diffuse: float
    gain: float
    noise_sigma: float
    wet: bool


def condition_look(lighting: str, weather: str) -> Look:
    """Appearance for a (lighting, weather) pair from the context vocabulary.

    Day / clear is set against the real fixture's six 1600x900 frames (one daytime keyframe,
    ``shared/data/nuscenes-real/cameras``): mean grey level 99-119 (ours about 107) and noise
    in flat regions after JPEG (std of the residual to a 3x3 box blur in the flattest 20 % of
    16x16 blocks) 0.41-0.60 grey levels (ours about 0.45 with ``noise_sigma`` 1.2). The fixture
    has no night or rain frame: those levels (night about a quarter of the day brightness with
    a high-gain sensor's noise, rain dimmer and flatter) are not measured against real data.
    """
    if weather not in ('clear', 'rain'):
        raise ValueError(f'the generator renders weather clear or rain, got {weather!r}')
    if lighting not in ('day', 'night'):
        raise ValueError(f'lighting must be day or night, got {lighting!r}')
    rain = weather == 'rain'
    if lighting == 'day':
        return Look(sky_top=(190, 140, 90) if not rain else (150, 145, 140),
                    sky_horizon=(235, 215, 200) if not rain else (190, 188, 185),
                    haze_bgr=(215, 205, 195) if not rain else (170, 170, 168),
                    haze_m=450.0 if not rain else 110.0, ambient=0.55 if not rain else 0.75,
                    diffuse=0.5 if not rain else 0.15, gain=1.06 if not rain else 0.72,
                    noise_sigma=1.2 if not rain else 1.6, wet=rain)
    return Look(sky_top=(25, 12, 8), sky_horizon=(60, 45, 40), haze_bgr=(30, 30, 32),
                haze_m=160.0 if not rain else 70.0, ambient=0.9, diffuse=0.1,
                gain=0.22 if not rain else 0.17, noise_sigma=4.0 if not rain else 4.5, wet=rain)


@functools.lru_cache(maxsize=8)
def _noise_tile(height: int, width: int, sigma: float) -> np.ndarray:
    """A fixed Gaussian noise field (int16, read-only, (H, W, 3)), shared by cameras of one
    size: a luminance part common to the three channels (LUMA_SHARE of the variance, as
    demosaicing correlates them) plus independent per-channel noise, ``sigma`` per channel."""
    rng = np.random.default_rng(7919)
    luma = rng.standard_normal((height, width, 1), dtype=np.float32)
    chroma = rng.standard_normal((height, width, 3), dtype=np.float32)
    field = sigma * (np.sqrt(LUMA_SHARE) * luma + np.sqrt(1.0 - LUMA_SHARE) * chroma)
    tile = np.round(field).astype(np.int16)
    tile.setflags(write=False)
    return tile


@dataclass
class CameraFrame:
    """A rendered image and what each annotated object looked like in it.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        visible_px: (N,) pixels showing each track (after occlusion).
        projected_px: (N,) pixels each track would cover without other objects in front.
    """
    image: np.ndarray
    visible_px: np.ndarray
    projected_px: np.ndarray


class CameraRenderer:
    """Renders one camera of the rig for one scene condition (precomputes sky and ground)."""

    def __init__(self, camera: CameraModel, lighting: str, weather: str, lane_y_m: float):
        self.camera = camera
        self.look = condition_look(lighting, weather)
        self.night = lighting == 'night'
        self.cam_T_ego = invert_pose(camera.ego_T_cam)
        H, W = camera.height, camera.width
        K = camera.intrinsic
        u = ((np.arange(W) - K[0, 2]) / K[0, 0]).astype(np.float32)[None, :]
        v = ((np.arange(H) - K[1, 2]) / K[1, 1]).astype(np.float32)[:, None]
        R = camera.ego_T_cam[:3, :3].astype(np.float32)
        # ego-frame ray directions (H, W) per axis, scaled so that the optical z component is 1
        dx, dy, dz = (R[k, 0] * u + R[k, 1] * v + R[k, 2] for k in range(3))
        origin = camera.ego_T_cam[:3, 3]
        look = self.look
        ground = dz < -1e-6
        depth = np.full((H, W), np.inf, dtype=np.float32)
        depth[ground] = np.float32(origin[2]) / -dz[ground]
        ground &= depth < MAX_GROUND_DEPTH_M
        dg = depth[ground]
        gx = origin[0] + dg * dx[ground]
        gy = origin[1] + dg * dy[ground] + lane_y_m  # lateral road coordinate (ego keeps y)
        # sky: gradient with elevation (smooth, so computed on a coarse grid and upsampled)
        step = 8
        elev = np.arctan2(dz[::step, ::step], np.hypot(dx[::step, ::step], dy[::step, ::step]))
        w = np.clip(elev / 0.6, 0.0, 1.0)[..., None]
        horizon = np.array(look.sky_horizon, dtype=np.float32)
        sky = horizon + w * (np.array(look.sky_top, dtype=np.float32) - horizon)
        background = cv2.resize(sky.astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)
        # ground colour: the lateral pattern is static since the ego keeps its lane
        surf = surface_at(np.full(len(gy), DASH_ON_M / 2), gy)
        colours = SURFACE_COLOUR_BGR['wet' if look.wet else 'dry']
        shade = np.float32(min(look.ambient + look.diffuse * _SUN[2], 1.1))
        grain_rng = np.random.default_rng(12345)  # fixed asphalt grain, the same every scene
        grain = 1.0 + 0.06 * grain_rng.standard_normal(len(gy), dtype=np.float32)
        haze = (1.0 - np.exp(-dg / np.float32(look.haze_m)))[:, None]
        haze_bgr = np.array(look.haze_bgr, dtype=np.float32)
        gcol = (1 - haze) * colours[surf] * (shade * grain)[:, None] + haze * haze_bgr
        if self.night and camera.name == 'CAM_FRONT':  # the ego's own headlight beam
            beam = (np.exp(-((gx - 12.0) / 14.0) ** 2)
                    * np.exp(-((gy - lane_y_m) / 3.5) ** 2))
            gcol = gcol * (1.0 + 3.5 * beam[:, None])
        background[ground] = np.clip(gcol, 0, 255).astype(np.uint8)
        self.background = background
        # dashed lane lines depend on the ego's travel: keep their pixels and road x offsets
        ground_idx = np.flatnonzero(ground.ravel())
        dashed = (surf == 1) & (np.abs(np.abs(gy) - 3.5) < 0.2)
        self.dash_idx = ground_idx[dashed]
        self.dash_x = gx[dashed]
        gap = (1 - haze[dashed]) * colours[0] * (shade * grain[dashed])[:, None] \
            + haze[dashed] * haze_bgr
        self.dash_gap_colour = np.clip(gap, 0, 255).astype(np.uint8)
        # sensor noise: one tile per camera, cropped at a random offset per image (a fresh
        # full-size Gaussian field per image costs more than the rest of the rendering)
        self.noise_tile = _noise_tile(H + 64, W + 64, look.noise_sigma)

    def _background(self, ego_x_m: float) -> np.ndarray:
        img = self.background.copy()
        flat = img.reshape(-1, 3)
        gap = np.mod(self.dash_x + ego_x_m, DASH_PERIOD_M) >= DASH_ON_M
        flat[self.dash_idx[gap]] = self.dash_gap_colour[gap]
        return img

    def render(self, parts_ego: WorldParts, num_tracks: int, ego_x_m: float,
               lights_ego: np.ndarray, seed: int) -> CameraFrame:
        """Render one frame.

        Args:
            parts_ego: the world's parts in the ego frame at the camera's timestamp.
            num_tracks: number of annotated tracks (length of the visibility arrays).
            ego_x_m: ego travel along the street in the road frame [m] (moves the lane dashes).
            lights_ego: (L, 7) light sources in the ego frame: x, y, z [m], radius [m], B, G, R;
                drawn at night only, where not hidden by an object.
            seed: noise seed for this image.
        """
        cam = self.camera
        H, W = cam.height, cam.width
        K = cam.intrinsic
        img = self._background(ego_x_m)
        inv_depth = np.zeros((H, W), dtype=np.float32)
        ids = np.full((H, W), -1, dtype=np.int32)
        projected = np.zeros(num_tracks, dtype=np.int64)
        look = self.look

        corners = transform_points(self.cam_T_ego, box_corners(parts_ego.centers, parts_ego.half,
                                                               parts_ego.yaw))  # (P, 8, 3)
        c, s = np.cos(parts_ego.yaw)[:, None], np.sin(parts_ego.yaw)[:, None]
        n_ego = np.stack([c * _FACE_NORMALS[:, 0] - s * _FACE_NORMALS[:, 1],
                          s * _FACE_NORMALS[:, 0] + c * _FACE_NORMALS[:, 1],
                          np.broadcast_to(_FACE_NORMALS[:, 2], c.shape[:1] + (6,))], axis=-1)
        shade = look.ambient + look.diffuse * np.clip(n_ego @ _SUN, 0.0, None)  # (P, 6)
        n_cam = n_ego @ self.cam_T_ego[:3, :3].T
        face_pts = corners[:, _FACES]  # (P, 6, 4, 3)
        centre = face_pts.mean(axis=2)
        facing = np.einsum('pfk,pfk->pf', n_cam, centre) < -1e-9
        z = face_pts[..., 2]
        in_front = z.max(axis=2) > NEAR_M
        # frustum culling of faces wholly in front of the near plane
        with np.errstate(divide='ignore', invalid='ignore'):
            u = face_pts[..., 0] / z * K[0, 0] + K[0, 2]
            v = face_pts[..., 1] / z * K[1, 1] + K[1, 2]
        ahead = z.min(axis=2) > NEAR_M
        outside = ((u.max(axis=2) < 0) | (u.min(axis=2) >= W) | (v.max(axis=2) < 0)
                   | (v.min(axis=2) >= H))
        in_front &= ~(ahead & outside)
        dist = np.linalg.norm(centre, axis=-1)
        haze = 1.0 - np.exp(-dist / look.haze_m)
        colour = (parts_ego.colours[:, None, :].astype(np.float64) * shade[..., None]
                  * (1 - haze[..., None]) + haze[..., None] * np.array(look.haze_bgr))
        colour = np.clip(colour, 0, 255)

        # buildings (static and wide; lamp poles are 0.2 m thin and go through the z-buffer)
        building = (parts_ego.owner == STATIC_OWNER) & (parts_ego.half[:, 0] > 0.5)
        order = np.argsort(-np.linalg.norm(parts_ego.centers[:, :2], axis=1))
        for p in order[building[order]]:  # painter's algorithm for buildings
            for f in np.flatnonzero(facing[p] & in_front[p]):
                poly = self._project(face_pts[p, f], K)
                if poly is not None:
                    cv2.fillPoly(img, [poly], tuple(float(x) for x in colour[p, f]), cv2.LINE_8,
                                 shift=4)
        for p in np.flatnonzero(~building):  # z-buffered objects and poles
            for f in np.flatnonzero(facing[p] & in_front[p]):
                self._draw_face(img, inv_depth, ids, projected, face_pts[p, f], n_cam[p, f],
                                colour[p, f], int(parts_ego.owner[p]))
        visible = np.bincount(ids[ids >= 0].ravel(), minlength=num_tracks)[:num_tracks]
        img = self._finish(img, inv_depth, lights_ego, seed)
        return CameraFrame(img, visible, projected)

    def _project(self, pts_cam: np.ndarray, K: np.ndarray):
        """Clip a convex polygon (M, 3) to z >= NEAR_M and project to fixed-point pixels."""
        z = pts_cam[:, 2]
        if (z < NEAR_M).any():
            out = []
            n = len(pts_cam)
            for i in range(n):
                a, b = pts_cam[i], pts_cam[(i + 1) % n]
                if a[2] >= NEAR_M:
                    out.append(a)
                if (a[2] >= NEAR_M) != (b[2] >= NEAR_M):
                    t = (NEAR_M - a[2]) / (b[2] - a[2])
                    out.append(a + t * (b - a))
            if len(out) < 3:
                return None
            pts_cam = np.array(out)
        uv = pts_cam[:, :2] / pts_cam[:, 2:3] * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]
        uv = np.minimum(np.maximum(uv, -1e5), 1e5)
        return np.round(uv * 16.0).astype(np.int32)

    def _draw_face(self, img, inv_depth, ids, projected, pts_cam, normal, colour, owner):
        cam = self.camera
        H, W = cam.height, cam.width
        poly = self._project(pts_cam, cam.intrinsic)
        if poly is None:
            return
        x0 = max(int(poly[:, 0].min()) >> 4, 0)
        x1 = min((int(poly[:, 0].max()) >> 4) + 2, W)
        y0 = max(int(poly[:, 1].min()) >> 4, 0)
        y1 = min((int(poly[:, 1].max()) >> 4) + 2, H)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        cv2.fillPoly(mask, [poly - np.array([x0 * 16, y0 * 16], dtype=np.int32)], 1,
                     cv2.LINE_8, shift=4)
        inside = mask.view(bool)
        n_inside = int(np.count_nonzero(inside))
        if n_inside == 0:
            return
        if owner >= 0:
            projected[owner] += n_inside
        K = cam.intrinsic
        dd = float(normal @ pts_cam[0])
        if abs(dd) < 1e-9:
            return
        a = normal[0] / (K[0, 0] * dd)
        b = normal[1] / (K[1, 1] * dd)
        c0 = (normal[2] - normal[0] * K[0, 2] / K[0, 0] - normal[1] * K[1, 2] / K[1, 1]) / dd
        inv = (a * np.arange(x0, x1, dtype=np.float32)[None, :]
               + (b * np.arange(y0, y1, dtype=np.float32)[:, None] + c0)).astype(np.float32)
        sub = inv_depth[y0:y1, x0:x1]
        win = inv > sub
        win &= inside
        np.copyto(sub, inv, where=win)
        np.copyto(img[y0:y1, x0:x1], colour.astype(np.uint8), where=win[..., None])
        np.copyto(ids[y0:y1, x0:x1], owner, where=win)

    def _finish(self, img: np.ndarray, inv_depth: np.ndarray, lights_ego: np.ndarray,
                seed: int) -> np.ndarray:
        """Exposure, lights with glow, rain streaks and sensor noise (saturating uint8 ops)."""
        look = self.look
        H, W = img.shape[:2]
        rng = np.random.default_rng(seed)
        if look.gain != 1.0:
            img = cv2.convertScaleAbs(img, alpha=look.gain)
        if self.night and len(lights_ego):
            small_size = (max(W // 4, 1), max(H // 4, 1))
            glow = np.zeros((small_size[1], small_size[0], 3), dtype=np.uint8)
            pts = transform_points(self.cam_T_ego, lights_ego[:, :3])
            K = self.camera.intrinsic
            for (x, y, z), light in zip(pts, lights_ego):
                if z <= 0.5:
                    continue
                u, v = K[0, 0] * x / z + K[0, 2], K[1, 1] * y / z + K[1, 2]
                if not (0 <= u < W and 0 <= v < H):
                    continue
                if inv_depth[int(v), int(u)] > 1.0 / z * 1.02:  # hidden behind an object
                    continue
                colour = tuple(float(c) for c in light[4:7])
                radius = max(1, int(round(K[0, 0] * light[3] / z)))
                cv2.circle(img, (int(u), int(v)), radius, colour, -1, cv2.LINE_AA)
                cv2.circle(glow, (int(u) // 4, int(v) // 4), max(1, radius // 2), colour, -1,
                           cv2.LINE_AA)
            halo = cv2.GaussianBlur(glow, (0, 0), max(W / 500.0, 1.0))
            img = cv2.add(img, cv2.resize(cv2.convertScaleAbs(halo, alpha=2.0), (W, H)))
        if look.wet:
            n = int(400 * W * H / (1600 * 900)) + 20
            start = rng.uniform([0, 0], [W, H], size=(n, 2))
            length = rng.uniform(0.015, 0.045, size=n) * H
            angle = rng.normal(0.12, 0.05, size=n)
            end = start + np.stack([np.sin(angle), np.cos(angle)], axis=1) * length[:, None]
            lines = np.stack([start, end], axis=1).round().astype(np.int32)
            streaks = np.zeros_like(img)
            cv2.polylines(streaks, list(lines), False, (200, 200, 200), 1, cv2.LINE_AA)
            img = cv2.addWeighted(img, 1.0, streaks, 0.2, 0.0)
        oy, ox = (int(k) for k in rng.integers(0, 64, size=2))
        noisy = img.astype(np.int16)
        noisy += self.noise_tile[oy:oy + H, ox:ox + W]
        return np.clip(noisy, 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray) -> bytes:
    """JPEG bytes of a BGR uint8 image (quality 90, as typical for nuScenes' camera files)."""
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError('cv2.imencode failed to encode a JPEG')
    return buf.tobytes()


def vehicle_lights(tracks_centers_ego: np.ndarray, tracks_yaw_ego: np.ndarray,
                   sizes: np.ndarray, is_vehicle: np.ndarray) -> np.ndarray:
    """Head- and tail-light sources of vehicles, (L, 7) as ``CameraRenderer.render`` takes."""
    lights = []
    for centre, yaw, size, vehicle in zip(tracks_centers_ego, tracks_yaw_ego, sizes, is_vehicle):
        if not vehicle:
            continue
        length, width, height = size
        c, s = np.cos(yaw), np.sin(yaw)
        for fx, colour in ((0.5, (200, 235, 255)), (-0.5, (30, 30, 230))):
            for fy in (-0.38, 0.38):
                lx = fx * length * 1.02
                ly = fy * width
                lights.append((centre[0] + c * lx - s * ly, centre[1] + s * lx + c * ly,
                               0.35 * height - height / 2 + centre[2], 0.12, *colour))
    return np.array(lights, dtype=np.float64).reshape(-1, 7)


def lamp_lights(lamps_ego: np.ndarray) -> np.ndarray:
    """Street-lamp light sources, (L, 7)."""
    out = np.zeros((len(lamps_ego), 7))
    out[:, :3] = lamps_ego
    out[:, 3] = 0.35
    out[:, 4:7] = (150, 215, 255)
    return out
