"""What made a synthetic set: ``SYNTHETIC.json`` at its root, stamped with GENERATOR_VERSION, so
that a set made by an older sensor model is remade rather than mixed with a new one.

GENERATOR_VERSION history:
- 1 (implicit: no ``generator_version`` key): sensors before issue 18.
- 2: sensors held to real nuScenes (issue 18): ARS 408 radar model, HDL-32E writing every ray,
  ego body, intensity gain and speckle, camera noise on all channels.
- 3: scene layouts drawn per scene (cross-section scale, work zone, shifted required objects),
  so that the layout alone does not tell a detector where objects stand (issue 18).
- 4: work zones in some scenes only, anywhere along the street at a drawn lateral offset, and
  single cones on parking strips and sidewalks (a radar-only model scored cones from the
  work zone's fixed line); the objects placed near the ego shifted by up to 15 m (was 6);
  cross-section scale 1.0-1.3 (0.9 let a parked bus overlap a passing one); barrier RCS -5
  dBsm (was -9) (issue 18).
"""
import json
import os
from typing import Optional

GENERATOR_VERSION = 4
MARKER_FILE = 'SYNTHETIC.json'


def write_marker(root: str, record: dict) -> None:
    """Write ``SYNTHETIC.json`` (``record`` plus the generator name and version)."""
    with open(os.path.join(root, MARKER_FILE), 'w') as f:
        json.dump({'generator': 'fusion_moe.data.synthetic',
                   'generator_version': GENERATOR_VERSION, **record}, f, indent=1)


def stale_reason(root: str) -> Optional[str]:
    """Why the synthetic set at ``root`` must be remade, or None if this generator made it.

    A root without tables is not stale (there is nothing to remake); a root whose tables have
    no ``SYNTHETIC.json`` was not made by this generator and is reported as such."""
    if not any(os.path.isfile(os.path.join(root, v, 'sample.json'))
               for v in ('v1.0-mini', 'v1.0-trainval')):
        return None
    path = os.path.join(root, MARKER_FILE)
    if not os.path.isfile(path):
        return f'{root} holds nuScenes tables but no {MARKER_FILE}'
    try:
        with open(path) as f:
            made_by = int(json.load(f).get('generator_version', 1))
    except (ValueError, TypeError, AttributeError) as err:
        return f'{path} is unreadable ({err})'
    if made_by != GENERATOR_VERSION:
        return (f'{root} was made by synthetic generator version {made_by}, the current one is '
                f'{GENERATOR_VERSION}')
    return None
