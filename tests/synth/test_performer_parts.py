"""The performer's materials table: every part has one, and the built performer carries it."""

from __future__ import annotations

import numpy as np


def test_materials_table_names_every_part_in_order():
    from nervp.synth.performer import PARTS
    from nervp.synth.performer.materials import MATERIALS

    assert tuple(MATERIALS) == PARTS
    for m in MATERIALS.values():
        assert 0 < m.roughness <= 1 and 0 <= m.f0 <= 1 and 0 <= m.sss <= 1
        assert all(0 <= c <= 1 for c in m.albedo)


def test_built_performer_carries_the_table_off_the_face():
    from nervp.synth.performer import PARTS, PerformerConfig, build_performer
    from nervp.synth.performer.materials import MATERIALS

    p = build_performer(PerformerConfig(seed=3, face_subdivisions=1))
    for i, name in enumerate(PARTS):
        if name == "face":  # painted: lips, brows, T-zone
            continue
        sel = (p.part == i).numpy()
        m = MATERIALS[name]
        np.testing.assert_array_equal(p.f0.numpy()[sel], np.float32(m.f0))
        np.testing.assert_array_equal(p.roughness.numpy()[sel], np.float32(m.roughness))
        np.testing.assert_array_equal(p.sss.numpy()[sel], np.float32(m.sss))
