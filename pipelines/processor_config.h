// Hugging Face image-processor configs (preprocessor_config.json), loaded, saved and resolved exactly
// as transformers' slow (PIL/numpy) image processors do it. Reference: transformers v4.57.x, which
// gives the same results as v5 main on every golden case; save_pretrained follows the goldens
// (v5 main), which differ from 4.57 only in dropping `processor_class` from the saved file.
//
// Three steps mirror the Python API:
//   load_processor_config(path_or_id, opts)  ==  XImageProcessor.from_pretrained(path_or_id,
//                                                 **opts.overrides, return_unused_kwargs=True)
//                                                 (class chosen as AutoImageProcessor chooses it)
//   to_json_string / save_pretrained         ==  processor.to_json_string() / save_pretrained(dir)
//   resolve_call(cfg, call_kwargs)           ==  the argument handling at the top of
//                                                 processor.preprocess(images, **call_kwargs):
//                                                 defaults from the processor, get_size_dict with
//                                                 that class's default_to_square, validation.
//
// The per-class preprocess chains (ops, order, size formulas) that the graph builder implements are
// in pipelines/PROCESSORS.md. Size-dict forms the builder must interpret, per class:
//   - {"height","width"}: ViT, DeiT, Siglip, Segformer, EfficientNet, Beit, DPT, Perceiver, ImageGPT
//     (resize to exactly that; DPT with keep_aspect_ratio/ensure_multiple_of, see PROCESSORS.md).
//   - {"shortest_edge"} or {"height","width"}: CLIP, Bit, MobileNetV2, MobileViT, VideoMAE (shortest
//     edge -> get_resize_output_image_size with truncation), LeViT (shortest_edge scaled by 256/224
//     first), PoolFormer (divided by crop_pct when crop_pct is not null).
//   - {"shortest_edge"} only: ConvNext (< 384: resize to int(se / crop_pct) then crop se x se;
//     >= 384: warp to se x se).
//   - Perceiver center-crops FIRST to int((size / crop_size) * min(H, W)) per side, then resizes.
//   - GLPN has no size: floor each side to a multiple of size_divisor.
//   - {"shortest_edge","longest_edge"} passes HF's checks in the shortest-edge classes; longest_edge
//     is then ignored (as HF ignores it).
//
// Errors: ConfigError whose message is "<source>: <key path>: <problem>", where <source> is the
// config file (or "overrides" / "call_kwargs" for values that came from those) and the key path
// looks like `image_std[1]` or `size.height`. Loading raises where transformers raises (get_size_dict,
// ragged clusters, unknown class) and, for the keys the class knows, on values no call could use
// (size values that are not positive integers, std <= 0, non-numeric mean/std/rescale_factor,
// resample outside 0..5, crop_pct <= 0, ensure_multiple_of/size_divisor not positive integers).
// Everything else transformers accepts is accepted: unknown keys, null values, non-boolean flags
// (Python truthiness, with a "pixelflow: " note), combinations only preprocess() rejects.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"

namespace pixelflow::pipelines {

struct LoadOptions {
  // Hub revision for model ids: a branch/tag name looked up in refs/, or a commit hash that names a
  // snapshots/ directory. Unset means "main". Bundled copies are only used for unset/"main".
  std::optional<std::string> revision;
  // from_pretrained(**kwargs) overrides (v4.57 from_dict semantics): `size` / `crop_size` replace the
  // file's value before __init__ when the file has that key (so they are normalized); every other
  // key that is an attribute of the processor is set as given; the rest is reported in
  // ProcessorConfig::unused_kwargs. from_pretrained's own loader kwargs are consumed, not reported:
  // `revision` (when the field above is unset), `cache_dir` (instead of the environment's hub cache)
  // and `subfolder` are honoured; `use_fast` gets a note (pixelflow is the slow processor);
  // force_download, local_files_only, token, proxies, resume_download, use_auth_token,
  // trust_remote_code, return_unused_kwargs are ignored. The Hub keywords below may also come as
  // overrides (`cache_dir`, `subfolder`, `force_download`, `local_files_only`, `token` (a string, or
  // false for none), `use_auth_token`, `proxies` (a dict), `resume_download`): the fields win when set.
  nlohmann::json overrides = nlohmann::json::object();
  // Force a class, as calling XImageProcessor.from_pretrained directly does (any spelling accepted
  // by class resolution: "...Fast", "...FeatureExtractor"). Unset: resolved like AutoImageProcessor.
  std::optional<std::string> processor_class;

  // ---- the Hugging Face Hub (model ids only; see pipelines/hub/hub.h and the README) ----------
  // The hub cache folder; unset: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.
  std::optional<std::string> cache_dir;
  // A folder inside the repository (or the local folder) that holds preprocessor_config.json.
  std::string subfolder;
  // Download even when the cache holds the file (the blob is replaced).
  bool force_download = false;
  // Never touch the network (as HF_HUB_OFFLINE=1): the cache or the bundled configs, else an error.
  bool local_files_only = false;
  // A partial download (blobs/<etag>.<8 hex>.incomplete) is continued with a Range request; false
  // starts it over.
  bool resume_download = true;
  // The token sent as "Authorization: Bearer"; unset: HF_TOKEN, else the file HF_TOKEN_PATH
  // (default HF_HOME/token). use_token = false sends none (token=False in Python).
  std::optional<std::string> token;
  bool use_token = true;
  // Proxies as requests takes them: {"https": URL, "http": URL, "all": URL, "https://host": URL};
  // empty: the usual environment variables (https_proxy, http_proxy, all_proxy, no_proxy).
  std::map<std::string, std::string> proxies;
  // The Hub's address; unset: HF_ENDPOINT, else https://huggingface.co.
  std::optional<std::string> endpoint;
};

struct ProcessorConfig {
  std::string class_name;         // canonical slow class, e.g. "CLIPImageProcessor"
  nlohmann::json attributes;      // exactly what to_dict() returns (includes image_processor_type)
  std::string source;             // the file it came from, for error messages
  std::vector<std::string> unused_kwargs;  // load-time overrides the processor did not use
  std::vector<std::string> warnings;       // warnings transformers emits while loading (verbatim),
                                           // plus pixelflow notes prefixed "pixelflow: "
};

// Loads `path_or_model_id`: a directory holding preprocessor_config.json, a .json file, a URL to a
// JSON file, or a model id "org/name" looked up in the local Hugging Face cache (HF_HUB_CACHE, else
// HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub; models--org--name/snapshots/<rev>/, <rev> read from refs/<revision>),
// then among the bundled configs (see bundled_models_dir()), then downloaded from the Hub into that
// cache unless opts.local_files_only or HF_HUB_OFFLINE (pipelines/hub/hub.h). Hub failures throw
// HubError.
ProcessorConfig load_processor_config(const std::string& path_or_model_id, const LoadOptions& opts = {});

// from_dict on an already parsed config (Python dict order matters only for warning texts, so the
// ordered overload is preferred when the text is at hand). `source` is used in error messages.
ProcessorConfig processor_config_from_dict(const nlohmann::ordered_json& dict, const std::string& source,
                                           const LoadOptions& opts = {});
ProcessorConfig processor_config_from_dict(const nlohmann::json& dict, const std::string& source,
                                           const LoadOptions& opts = {});
// Parses JSON text (as json.loads does, keeping key order) and calls processor_config_from_dict.
ProcessorConfig processor_config_from_json_text(const std::string& text, const std::string& source,
                                                const LoadOptions& opts = {});

// JSON text as json.loads reads it (object key order kept). Throws ConfigError("<source>: <what>:
// <parser's message>") on malformed text and on nesting deeper than 1000 levels (where Python's
// json gives up with RecursionError).
nlohmann::ordered_json parse_config_json(const std::string& text, const std::string& source,
                                         const std::string& what = "not valid JSON");

// Exactly what save_pretrained writes: json.dumps(to_dict(), indent=2, sort_keys=True) + "\n".
std::string to_json_string(const ProcessorConfig& cfg);
// Creates `dir` if needed and writes dir/preprocessor_config.json. Throws ConfigError if `dir` is an
// existing file or cannot be written.
void save_pretrained(const ProcessorConfig& cfg, const std::string& dir);

// The 18 supported classes, canonical names.
const std::vector<std::string>& supported_processor_classes();
// Canonical class for a name as found in configs ("CLIPImageProcessorFast" -> "CLIPImageProcessor",
// "ViTFeatureExtractor" -> "ViTImageProcessor"); std::nullopt when unsupported.
std::optional<std::string> canonical_processor_class(const std::string& name);
// The same normalization without requiring a supported (declared) class: "...ImageProcessorFast"
// and "...ImageProcessorPil" -> "...ImageProcessor", "...FeatureExtractor" -> "...ImageProcessor";
// other names unchanged.
std::string normalize_processor_class_name(const std::string& name);
// The class a preprocessor_config.json dict names, as AutoImageProcessor reads it:
// image_processor_type, else feature_extractor_type (FeatureExtractor -> ImageProcessor), then
// normalize_processor_class_name; nullopt when the dict has neither key. A key that is not a
// string is a ConfigError naming `source` and the key. Needs no declared class (for
// post-processing of classes pixelflow does not preprocess).
std::optional<std::string> processor_class_in_config(const nlohmann::json& dict, const std::string& source);

// Where a path or model id resolves to (the preprocessor_config.json that load_processor_config
// reads). Throws ConfigError naming the path/id when nothing is found.
// `cache_dir` replaces hf_hub_cache_dir(); `subfolder` is looked in below the folder / snapshot.
// This overload never downloads (the cache and the bundled configs only).
std::string resolve_preprocessor_config_path(const std::string& path_or_model_id,
                                             const std::optional<std::string>& revision = std::nullopt,
                                             const std::optional<std::string>& cache_dir = std::nullopt,
                                             const std::string& subfolder = "");
// The same with the Hub: a model id that is neither in the cache nor bundled (for the main
// revision) is downloaded into the cache (opts' revision, cache_dir, subfolder, force_download,
// local_files_only, token, proxies, endpoint; HF_HUB_OFFLINE=1 is local_files_only). A URL
// (http:// or https://) is not resolved here: see read_preprocessor_config.
// Throws ConfigError for local paths, HubError for the Hub.
std::string resolve_preprocessor_config_path(const std::string& path_or_model_id, const LoadOptions& opts);
// The text of the preprocessor_config.json that path_or_model_id names (as above, or a URL to a
// JSON file, fetched without caching) and where it came from (the file, or the URL).
struct ConfigText {
  std::string text;
  std::string source;
};
ConfigText read_preprocessor_config(const std::string& path_or_model_id, const LoadOptions& opts);
// save_pretrained(dir, push_to_hub=True): commits `cfg` as preprocessor_config.json (to_json_string)
// to the Hub repository `repo_id`, creating the repository if needed. Returns the commit's URL.
struct PushOptions {
  std::optional<std::string> token;  // unset: HF_TOKEN, else HF_TOKEN_PATH / HF_HOME/token; required
  std::optional<bool> private_repo;  // visibility of a repository created here (unset: the Hub's default)
  std::string commit_message = "Upload processor";
  std::string commit_description;
  std::string revision = "main";     // the branch the commit goes to
  std::string subfolder;             // path_in_repo = subfolder/preprocessor_config.json
  std::map<std::string, std::string> proxies;
  std::optional<std::string> endpoint;
};
std::string push_to_hub(const ProcessorConfig& cfg, const std::string& repo_id, const PushOptions& opts = {});
// The Hugging Face hub cache directory in use (see load_processor_config).
std::string hf_hub_cache_dir();
// Directory of bundled configs: $PIXELFLOW_MODELS_DIR if set, else
// <directory of the running executable>/../share/pixelflow/models if it exists (install layout:
// install(DIRECTORY pipelines/models/ DESTINATION share/pixelflow/models)), else the source tree's
// pipelines/models (compile-time PIXELFLOW_BUNDLED_CONFIG_DIR).
std::string bundled_models_dir();
// Where the bundled configs are when not beside the executable (the Python package sets its own
// copy); PIXELFLOW_MODELS_DIR still comes first. Call before any lookup, from one thread.
void set_bundled_models_dir(const std::string& dir);
// Model ids with a bundled copy ("openai/clip-vit-base-patch32", ...), sorted.
std::vector<std::string> bundled_model_ids();

// What preprocess(images, **call_kwargs) resolves every argument to.
struct CallArgs {
  // Every argument that class's preprocess takes (HF names; images / segmentation_maps excluded),
  // after the processor's own normalization: do_* flags as bool (Python truthiness), size dicts as
  // get_size_dict returns them, resample as int 0..5, image_mean/image_std as list or single number,
  // data_format / input_data_format as "channels_first" / "channels_last" / null, return_tensors
  // passed through untouched (the CLI handles it). Values whose op is disabled are passed through
  // as resolved (they are not validated, as HF does not look at them).
  nlohmann::json params;
  std::vector<std::string> unused_kwargs;  // call kwargs the class's preprocess does not take
  std::vector<std::string> warnings;       // HF's warnings for those, verbatim (plus "pixelflow: " notes)
};
// Throws ConfigError (naming the key and where the value came from) wherever HF raises before looking
// at the images: validate_preprocess_arguments, get_size_dict, the size-dict keys each op requires,
// and values the ops cannot use (non-integer sizes, resample outside 0..5, rescale_factor not a
// number, missing clusters, ...). See PROCESSORS.md.
CallArgs resolve_call(const ProcessorConfig& cfg, const nlohmann::json& call_kwargs = nlohmann::json::object());

}  // namespace pixelflow::pipelines
