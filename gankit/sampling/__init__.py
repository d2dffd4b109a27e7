"""Drawing from trained runs (:mod:`.draw`), standing statistics (:mod:`.standing`) and writing what they make
(:mod:`.pictures`). Samplers other than plain decoding (discriminator rejection sampling) live in
:mod:`gankit.samplers`."""

from gankit.sampling.draw import CHUNK, cannot, classify_inputs, draw_samples, encode_inputs, interpolation_frames, sampling_players, slerp, translate_inputs
from gankit.sampling.pictures import output_field, save_images, save_samples, snapshot, translation_picture, write_picture
from gankit.sampling.standing import eval_mode, with_standing_statistics

__all__ = [
    "CHUNK",
    "cannot",
    "classify_inputs",
    "draw_samples",
    "encode_inputs",
    "eval_mode",
    "interpolation_frames",
    "output_field",
    "sampling_players",
    "save_images",
    "save_samples",
    "slerp",
    "snapshot",
    "translate_inputs",
    "translation_picture",
    "with_standing_statistics",
    "write_picture",
]
