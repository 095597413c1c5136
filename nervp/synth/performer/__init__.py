"""A synthetic performer: a whole head and shoulders built around the head model G(β, θ, φ).

Parts (model space: metres, +y up, +z out of the face, origin at the head's rotation centre):

* face: the 468-point head model, Loop-subdivided for resolution, with fine displacement
  (pores, forehead and crow's-feet wrinkles) it lacks, and a skirt folding its outline
  back into the skull so no gap opens between face and head;
* cranium and ears: an ellipsoid fitted to the face outline, and two ear shells;
* hair: a shell over the cranium above a seeded hairline, with strand-like relief;
* eyes: eyeballs behind the lid openings, their iris, pupil and glossy cornea aimed
  where the model's iris landmarks point, so they follow the gaze;
* mouth: a dark cavity, upper teeth fixed to the skull and lower teeth and tongue that
  follow the jaw, seen through the lip opening when the jaw opens;
* neck and shoulders with clothing; the neck blends between head and body motion.

Materials are per vertex: albedo (spatially varying: lips, brows, cheeks, stubble-free skin
noise), GGX roughness, Fresnel F0 and a subsurface-scattering weight (`materials.MATERIALS`).

Modules: `head` (face detail, skirt, cranium, ears, hair), `features` (eyes, mouth),
`body` (neck, torso), `materials`, `fields` (noise and 2D tests), `built` (`Performer`,
posing), `build` (`build_performer`).
"""

from nervp.synth.performer.build import build_performer
from nervp.synth.performer.built import PARTS, Performer, PerformerConfig

__all__ = ["PARTS", "Performer", "PerformerConfig", "build_performer"]
