"""The networks: the rendering-to-video translator with its reflectance heads (chosen by name
from `HEADS`), its discriminator, and the shape regressor of the context loss."""

from nervp.model.config import TranslatorConfig
from nervp.model.heads import (
    HEADS,
    HeadName,
    LowRankHead,
    OLATHead,
    Params,
    ReflectanceHead,
    basis_coordinates,
    make_head,
    nmf_coeffs,
    pca_coeffs,
)
from nervp.model.shape_regressor import ShapeRegressor, train_regressor
from nervp.model.translator import FieldPrediction, PatchDiscriminator, Translator, coverage

__all__ = ["HEADS", "FieldPrediction", "HeadName", "LowRankHead", "OLATHead", "Params", "PatchDiscriminator",
           "ReflectanceHead", "ShapeRegressor", "Translator", "TranslatorConfig", "basis_coordinates", "coverage",
           "make_head", "nmf_coeffs", "pca_coeffs", "train_regressor"]
