"""Token-count helpers of the VLM processors (transformers' ``get_number_of_image_patches``),
computed in Python with the same float arithmetic as transformers (the C++ core computes the same
sizes when it processes the images: ops/resize/resize_op.cpp smart_resize, ops/crop_to_patches)."""
import math


def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=14 * 14 * 4 * 1280):
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def optimal_tiled_canvas(original_size, tile_size, min_tiles, max_tiles):
    grids = sorted(((w, h) for w in range(1, max_tiles + 1) for h in range(1, max_tiles + 1)
                    if min_tiles <= w * h <= max_tiles), key=lambda g: g[0] * g[1])
    height, width = original_size
    tile_h, tile_w = tile_size
    aspect, area = width / height, width * height
    best_diff, best = float("inf"), (1, 1)
    for g in grids:
        diff = abs(aspect - g[0] / g[1])
        if diff < best_diff:
            best_diff, best = diff, g
        elif diff == best_diff and area > 0.5 * tile_h * tile_w * g[0] * g[1]:
            best = g
    return best


def qwen2vl_number_of_image_patches(self, height, width, images_kwargs=None):
    """Qwen2VLImageProcessor.get_number_of_image_patches: patches (before merging) of an image."""
    min_pixels = images_kwargs["min_pixels"] if "min_pixels" in images_kwargs else self.size["shortest_edge"]
    max_pixels = images_kwargs["max_pixels"] if "max_pixels" in images_kwargs else self.size["longest_edge"]
    patch_size = images_kwargs.get("patch_size", self.patch_size)
    merge_size = images_kwargs.get("merge_size", self.merge_size)
    h, w = smart_resize(height, width, patch_size * merge_size, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // patch_size) * (w // patch_size)


def got_ocr2_number_of_image_patches(self, height, width, images_kwargs=None):
    """GotOcr2ImageProcessor.get_number_of_image_patches: tiles (and thumbnail) of an image."""
    min_patches = images_kwargs.get("min_patches", self.min_patches)
    max_patches = images_kwargs.get("max_patches", self.max_patches)
    patch_size = images_kwargs.get("patch_size", self.size)
    crop_to_patches = images_kwargs.get("crop_to_patches", self.crop_to_patches)
    num_patches = 1
    if crop_to_patches and max_patches > 1:
        columns, rows = optimal_tiled_canvas((height, width), (patch_size["height"], patch_size["width"]),
                                             min_patches, max_patches)
        if columns * rows > 1:
            num_patches += columns * rows
    return num_patches


def _idefics3_rescale_to_max_len(height, width, max_len):
    aspect_ratio = width / height
    if width >= height:
        width = max_len
        height = int(width / aspect_ratio)
        if height % 2 != 0:
            height += 1
    elif height > width:
        height = max_len
        width = int(height * aspect_ratio)
        if width % 2 != 0:
            width += 1
    return max(height, 1), max(width, 1)


def _idefics3_scale_below_upper_bound(height, width, max_len):
    aspect_ratio = width / height
    if width >= height and width > max_len:
        width = max_len
        height = int(width / aspect_ratio)
    elif height > width and height > max_len:
        height = max_len
        width = int(height * aspect_ratio)
    return max(height, 1), max(width, 1)


def idefics3_number_of_image_patches(self, height, width, images_kwargs=None):
    """Idefics3ImageProcessor.get_number_of_image_patches (also SmolVLM's): (patches, rows, cols) of an
    image, the global image counted in the patches. As in transformers, the longest-edge resize is
    assumed whatever do_resize says."""
    do_image_splitting = images_kwargs.get("do_image_splitting", self.do_image_splitting)
    max_image_size = images_kwargs.get("max_image_size", self.max_image_size)
    size = images_kwargs.get("size", self.size)
    num_patches = num_rows = num_cols = 1
    if do_image_splitting:
        height, width = _idefics3_rescale_to_max_len(height, width, size["longest_edge"])
        height, width = _idefics3_scale_below_upper_bound(height, width, 4096)
        edge = max_image_size["longest_edge"]
        if width >= height:
            resized_width = math.ceil(width / edge) * edge
            resized_height = math.ceil(height / edge) * edge
        else:
            resized_height = math.ceil(height / edge) * edge
            resized_width = math.ceil(width / edge) * edge
        if resized_height > edge or resized_width > edge:
            num_rows = math.ceil(resized_height / edge)
            num_cols = math.ceil(resized_width / edge)
            num_patches = num_rows * num_cols + 1
    return num_patches, num_rows, num_cols


METHODS = {
    "Qwen2VLImageProcessor": {"get_number_of_image_patches": qwen2vl_number_of_image_patches},
    "GotOcr2ImageProcessor": {"get_number_of_image_patches": got_ocr2_number_of_image_patches},
    "Idefics3ImageProcessor": {"get_number_of_image_patches": idefics3_number_of_image_patches},
    "SmolVLMImageProcessor": {"get_number_of_image_patches": idefics3_number_of_image_patches},
}
