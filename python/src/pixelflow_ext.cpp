// pixelflow._core: the extension module under the Python package (python/pixelflow/). It exposes
// the C++ API with as little policy as possible; the Python layer gives it transformers' names
// and keywords. Conventions:
//   - configs, call kwargs and attributes cross the boundary as JSON text (Python's json module
//     on one side, nlohmann::json on the other), so that numbers keep Python's spelling;
//   - arrays cross without copies: inputs are C-contiguous NumPy arrays borrowed for the call
//     (kept alive by a reference the C++ side holds), outputs are NumPy arrays over pixelflow's
//     buffers, whose capsule returns the buffer to the pool when the last array referencing it
//     dies;
//   - the GIL is released while pixelflow works (decode, graph, post-processing);
//   - C++ errors become pixelflow's Python exceptions (Error is a ValueError; ConfigError,
//     DecodeError, InputError, OutOfMemoryError, KernelError derive from it), message unchanged.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/batch_feature.h"
#include "base/errors.h"
#include "graph/tensor.h"
#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"
#include "ops/load_input/load_input.h"
#include "pipelines/data_loader.h"
#include "pipelines/detection_labels.h"
#include "pipelines/hub/hub.h"
#include "pipelines/image_processor.h"
#include "pipelines/input_source.h"
#include "pipelines/post_processing.h"
#include "pipelines/processor_config.h"

namespace py = pybind11;
namespace pf = pixelflow;
namespace pp = pixelflow::pipelines;

namespace {

// ---- arrays -------------------------------------------------------------------------------

std::optional<pf::DType> dtype_from_numpy(const py::dtype& dt) {
  // Native byte order only (the Python layer converts others first).
  const char kind = dt.kind();
  const auto size = static_cast<size_t>(dt.itemsize());
  if (dt.byteorder() == '>') return std::nullopt;
  if (kind == 'b' && size == 1) return pf::DType::kBool;
  if (kind == 'u' && size == 1) return pf::DType::kUInt8;
  if (kind == 'u' && size == 2) return pf::DType::kUInt16;
  if (kind == 'i' && size == 4) return pf::DType::kInt32;
  if (kind == 'i' && size == 8) return pf::DType::kInt64;
  if (kind == 'f' && size == 4) return pf::DType::kFloat32;
  if (kind == 'f' && size == 8) return pf::DType::kFloat64;
  return std::nullopt;
}

py::dtype numpy_dtype(pf::DType t) {
  switch (t) {
    case pf::DType::kBool: return py::dtype("bool");
    case pf::DType::kUInt8: return py::dtype("uint8");
    case pf::DType::kUInt16: return py::dtype("uint16");
    case pf::DType::kInt32: return py::dtype("int32");
    case pf::DType::kInt64: return py::dtype("int64");
    case pf::DType::kFloat32: return py::dtype("float32");
    case pf::DType::kFloat64: return py::dtype("float64");
    case pf::DType::kFloat16: return py::dtype("float16");
    case pf::DType::kBFloat16: throw pf::Error("bfloat16 has no NumPy dtype (read such tensors with torch)");
  }
  throw pf::Error("unknown dtype");
}

// A Python object kept alive by C++ (e.g. an input array inside a Tensor). The last reference
// may be dropped on a worker thread: take the GIL for the decref.
std::shared_ptr<void> hold(py::object obj) {
  auto* held = new py::object(std::move(obj));
  return std::shared_ptr<void>(held, [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: leak rather than crash
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
}

// A C-contiguous NumPy array as a Tensor sharing its memory (no copy).
pf::Tensor tensor_from_array(const py::array& a, const std::string& name) {
  if (!(a.flags() & py::array::c_style))
    throw pf::InputError(name + ": internal error: array is not C-contiguous");
  const auto dt = dtype_from_numpy(a.dtype());
  if (!dt)
    throw pf::InputError(name + ": arrays of dtype " + std::string(py::str(a.dtype())) + " are not supported");
  pf::Shape shape;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) shape.push_back(static_cast<int64_t>(a.shape(i)));
  return pf::Tensor::wrap(const_cast<void*>(a.data()), *dt, std::move(shape), hold(a));
}

// A Tensor as a NumPy array over the same memory; the capsule owns a reference to the storage.
py::array array_from_tensor(const pf::Tensor& t) {
  auto* keep = new pf::Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<pf::Tensor*>(p); });
  std::vector<py::ssize_t> shape, strides;
  const auto item = static_cast<py::ssize_t>(pf::dtype_size(t.dtype()));
  for (int64_t d : t.shape()) shape.push_back(static_cast<py::ssize_t>(d));
  strides.resize(shape.size());
  py::ssize_t s = item;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<py::ssize_t>(shape[i], 1);
  }
  return py::array(numpy_dtype(t.dtype()), shape, strides, const_cast<void*>(keep->raw_data()), owner);
}

py::dict dict_from_batch_feature(const pf::BatchFeature& bf) {
  py::dict out;
  for (const auto& key : bf.keys()) {
    const auto& v = bf.at(key);
    if (const auto* t = std::get_if<pf::Tensor>(&v)) {
      out[py::str(key)] = array_from_tensor(*t);
    } else {
      py::list l;
      for (const auto& e : std::get<std::vector<pf::Tensor>>(v)) l.append(array_from_tensor(e));
      out[py::str(key)] = l;
    }
  }
  return out;
}

// ---- inputs -------------------------------------------------------------------------------
// One input from the Python layer: a tuple (kind, value, name[, label]) where kind is "path"
// (value: str), "bytes" (value: a bytes object, kept alive by the item) or "array" (value: a
// C-contiguous ndarray); label, when present, is the segmentation map as ("path"|"array", value);
// a fifth element, when not None, is the image's COCO-detection annotation as JSON text.

pf::ops::InputItem make_item(const py::handle& spec) {
  auto t = spec.cast<py::tuple>();
  const auto kind = t[0].cast<std::string>();
  const auto name = t[2].cast<std::string>();
  pf::ops::InputItem item;
  if (kind == "path") {
    item = pf::ops::InputItem::file(t[1].cast<std::string>());
    item.name = name;
  } else if (kind == "bytes") {
    py::bytes b = t[1].cast<py::bytes>();
    char* data = nullptr;
    py::ssize_t size = 0;
    PyBytes_AsStringAndSize(b.ptr(), &data, &size);
    item = pf::ops::InputItem::borrow_bytes(std::string_view(data, static_cast<size_t>(size)), name);
    item.owner = hold(b);
  } else if (kind == "array") {
    item = pf::ops::InputItem::from_array(tensor_from_array(t[1].cast<py::array>(), name), name);
  } else if (kind == "rows") {
    // (owner, address of the row pointer array, width, height, channels, bytes per pixel): a PIL
    // image's own memory (ImagingCore.unsafe_ptrs), checked by the Python layer.
    auto r = t[1].cast<py::tuple>();
    pf::ops::InputItem::PixelRows rows;
    rows.rows = reinterpret_cast<const uint8_t* const*>(r[1].cast<uintptr_t>());
    rows.width = r[2].cast<int64_t>();
    rows.height = r[3].cast<int64_t>();
    rows.channels = r[4].cast<int>();
    rows.pixel_bytes = r[5].cast<int>();
    item = pf::ops::InputItem::from_rows(rows, hold(r[0]), name);
  } else {
    throw pf::InputError(name + ": unknown input kind '" + kind + "'");
  }
  if (t.size() > 3 && !t[3].is_none()) {
    auto label = t[3].cast<py::tuple>();
    const auto lkind = label[0].cast<std::string>();
    if (lkind == "path")
      item.labels_path = label[1].cast<std::string>();
    else
      item.labels_array = tensor_from_array(label[1].cast<py::array>(), name + " (segmentation map)");
  }
  if (t.size() > 4 && !t[4].is_none()) {
    // A detection annotation (DETR family), as JSON text written by the Python layer.
    try {
      item.annotation = std::make_shared<const nlohmann::json>(nlohmann::json::parse(t[4].cast<std::string>()));
    } catch (const nlohmann::json::exception& e) {
      throw pf::ConfigError("annotations", name + ": " + e.what());
    }
  }
  return item;
}

std::vector<pf::ops::InputItem> make_items(const py::list& specs) {
  std::vector<pf::ops::InputItem> items;
  items.reserve(specs.size());
  for (const auto& s : specs) items.push_back(make_item(s));
  return items;
}

// A list of videos, each a list of input specs.
// Lists of input lists (videos' frames, or the images of each sample of run_groups).
std::vector<std::vector<pf::ops::InputItem>> make_videos(const py::list& videos) {
  std::vector<std::vector<pf::ops::InputItem>> items;
  items.reserve(videos.size());
  for (const auto& v : videos) items.push_back(make_items(v.cast<py::list>()));
  return items;
}

nlohmann::json parse_json(const std::string& text) { return nlohmann::json::parse(text); }

py::tuple config_tuple(const pp::ProcessorConfig& cfg) {
  return py::make_tuple(cfg.class_name, cfg.attributes.dump(), cfg.unused_kwargs, cfg.warnings, cfg.source);
}

pp::LoadOptions load_options(const std::string& overrides_json, const std::optional<std::string>& processor_class,
                             const std::optional<std::string>& revision) {
  pp::LoadOptions o;
  o.overrides = parse_json(overrides_json);
  o.processor_class = processor_class;
  o.revision = revision;
  return o;
}

// ---- prepared calls -----------------------------------------------------------------------

struct CallOptionsIn {
  bool return_tensors = true;
  int threads = 0;
  bool skip_failed = false;
  int64_t max_image_pixels = pp::CallOptions{}.max_image_pixels;
  bool fuse = true;
};

class Call {
 public:
  Call(const std::string& class_name, const std::string& attributes_json, const std::string& kwargs_json,
       const CallOptionsIn& in) {
    pp::ProcessorConfig cfg;
    cfg.class_name = class_name;
    cfg.attributes = parse_json(attributes_json);
    cfg.source = "attributes";
    pp::ImageProcessor proc(std::move(cfg));
    opts_.return_tensors = in.return_tensors;
    opts_.threads = in.threads;
    opts_.skip_failed = in.skip_failed;
    opts_.max_image_pixels = in.max_image_pixels;
    opts_.fuse = in.fuse;
    call_ = std::make_shared<pp::PreparedCall>(proc.prepare(parse_json(kwargs_json), opts_, &args_));
  }
  std::vector<std::string> warnings() const {
    std::vector<std::string> w = call_->plan().warnings;
    return w;
  }
  std::vector<std::string> unused_kwargs() const { return args_.unused_kwargs; }
  bool video() const { return call_->plan().video; }
  std::string describe() const { return call_->describe(); }
  const pp::PreparedCall& prepared() const { return *call_; }

  // Returns (dict of outputs, kept input indices or None, [(index, message)] of failures).
  py::tuple run(const py::list& specs) const {
    std::vector<pf::ops::InputItem> items = make_items(specs);
    pf::BatchFeature bf;
    pf::RunReport report;
    {
      py::gil_scoped_release nogil;
      bf = call_->run(std::move(items), opts_.skip_failed ? &report : nullptr);
    }
    py::list failed;
    for (const auto& f : report.failed) failed.append(py::make_tuple(f.index, f.message));
    return py::make_tuple(dict_from_batch_feature(bf), report.kept, failed);
  }
  // (per-frame outputs, frames per video): every frame of every video in one flat batch.
  py::tuple run_frames(const py::list& videos) const {
    std::vector<std::vector<pf::ops::InputItem>> items = make_videos(videos);
    pf::BatchFeature bf;
    std::vector<int64_t> lengths;
    {
      py::gil_scoped_release nogil;
      bf = call_->run_frames(std::move(items), &lengths);
    }
    return py::make_tuple(dict_from_batch_feature(bf), lengths);
  }
  // Images in groups, one list of specs per sample (PreparedCall::run_groups).
  py::dict run_groups(const py::list& groups) const {
    std::vector<std::vector<pf::ops::InputItem>> items = make_videos(groups);
    pf::BatchFeature bf;
    {
      py::gil_scoped_release nogil;
      bf = call_->run_groups(std::move(items));
    }
    return dict_from_batch_feature(bf);
  }
  py::dict run_videos(const py::list& videos) const {
    std::vector<std::vector<pf::ops::InputItem>> items = make_videos(videos);
    pf::BatchFeature bf;
    {
      py::gil_scoped_release nogil;
      bf = call_->run_videos(std::move(items));
    }
    return dict_from_batch_feature(bf);
  }

 private:
  pp::CallOptions opts_;
  pp::CallArgs args_;
  std::shared_ptr<pp::PreparedCall> call_;
};

// ---- data loader --------------------------------------------------------------------------

class Loader {
 public:
  Loader(const Call& call, const py::list& specs, const py::dict& o) {
    pp::DataLoaderOptions opts;
    opts.batch_size = o["batch_size"].cast<int64_t>();
    opts.prefetch = o["prefetch"].cast<int>();
    opts.shuffle = o["shuffle"].cast<bool>();
    opts.seed = o["seed"].cast<uint64_t>();
    opts.rank = o["rank"].cast<int>();
    opts.world_size = o["world_size"].cast<int>();
    opts.drop_last = o["drop_last"].cast<bool>();
    opts.epochs = o["epochs"].cast<int>();
    opts.threads = o["threads"].cast<int>();
    opts.on_error = o["skip"].cast<bool>() ? pp::OnError::kSkip : pp::OnError::kFail;
    if (opts.batch_size < 1) throw pf::ConfigError("batch_size", "must be at least 1");
    if (opts.prefetch < 1) throw pf::ConfigError("prefetch", "must be at least 1");
    if (opts.world_size < 1 || opts.rank < 0 || opts.rank >= opts.world_size)
      throw pf::ConfigError("rank", "must be in [0, world_size)");
    if (opts.epochs < 1) throw pf::ConfigError("epochs", "must be at least 1");
    std::vector<pf::ops::InputItem> items = make_items(specs);
    py::gil_scoped_release nogil;
    loader_ = std::make_unique<pp::DataLoader>(call.prepared(), std::move(items), opts);
  }
  // (epoch, index, positions, outputs dict, kept, [(index in batch, message)]) or None.
  py::object next() {
    std::optional<pp::Batch> b;
    {
      py::gil_scoped_release nogil;
      b = loader_->next();
    }
    if (!b) return py::none();
    py::list failed;
    for (const auto& f : b->failed) failed.append(py::make_tuple(f.index, f.message));
    return py::make_tuple(b->epoch, b->index, b->positions, dict_from_batch_feature(b->features), b->kept, failed);
  }
  void close() {
    py::gil_scoped_release nogil;
    loader_.reset();
  }

 private:
  std::unique_ptr<pp::DataLoader> loader_;
};

// ---- decoding -----------------------------------------------------------------------------

// transformers.image_utils.load_image on a file or encoded bytes: EXIF orientation, then RGB.
py::array load_image_rgb(const py::object& src, const std::string& name) {
  pf::Tensor rgb;
  if (py::isinstance<py::bytes>(src)) {
    char* data = nullptr;  // read in place: `src` holds the bytes object for the call
    py::ssize_t size = 0;
    PyBytes_AsStringAndSize(src.ptr(), &data, &size);
    py::gil_scoped_release nogil;
    rgb = pf::ops::load_image_rgb(
        pf::ops::decode_image(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(size), name));
  } else {
    std::string path = src.cast<std::string>();
    py::gil_scoped_release nogil;
    rgb = pf::ops::load_image_rgb(pf::ops::decode_image_file(path));
  }
  return array_from_tensor(rgb);
}

// Raises `type` for a pixelflow error: the message, and the error's fields as attributes (empty
// ones stay None).
void raise_error(const py::handle& type, const pf::Error& e,
                 std::initializer_list<std::pair<const char*, std::string>> extra = {}) {
  py::object exc = py::reinterpret_borrow<py::object>(type)(e.what());
  const auto set = [&](const char* name, const std::string& value) {
    if (!value.empty()) exc.attr(name) = value;
  };
  set("problem", e.problem());
  set("source", e.source());
  set("op", e.op());
  for (const auto& [name, value] : extra) set(name, value);
  PyErr_SetObject(type.ptr(), exc.ptr());
}

// HubError::Kind as the attribute `kind` of pixelflow.HubError.
std::string hub_error_kind(pf::HubError::Kind k) {
  using K = pf::HubError::Kind;
  switch (k) {
    case K::kRepoNotFound: return "repo_not_found";
    case K::kRevisionNotFound: return "revision_not_found";
    case K::kEntryNotFound: return "entry_not_found";
    case K::kGatedRepo: return "gated_repo";
    case K::kAuth: return "auth";
    case K::kOffline: return "offline";
    case K::kNetwork: return "network";
    case K::kHttp: return "http";
    case K::kCache: return "cache";
  }
  return "";
}

// pixelflow's exceptions (pixelflow.Error, a ValueError, and its subclasses) and the translator
// from the C++ errors.
void bind_errors(py::module_& m) {
  static py::exception<pf::Error> error(m, "Error", PyExc_ValueError);
  static py::exception<pf::ConfigError> config_error(m, "ConfigError", error.ptr());
  static py::exception<pf::DecodeError> decode_error(m, "DecodeError", error.ptr());
  static py::exception<pf::InputError> input_error(m, "InputError", error.ptr());
  static py::exception<pf::OutOfMemoryError> oom_error(m, "OutOfMemoryError", error.ptr());
  static py::exception<pf::KernelError> kernel_error(m, "KernelError", error.ptr());
  // HubError is both a pixelflow.Error and an OSError (what transformers raises when the Hub or
  // its cache cannot give a file).
  static py::handle hub_error = [&] {
    py::tuple bases = py::make_tuple(error, py::handle(PyExc_OSError));
    PyObject* cls = PyErr_NewException("pixelflow._core.HubError", bases.ptr(), nullptr);
    if (!cls) throw py::error_already_set();
    m.add_object("HubError", py::handle(cls));
    return py::handle(cls);
  }();
  // Every exception class has the fields of pixelflow's errors as attributes (None unless the
  // C++ error set them): problem, source, op; key_path and where (ConfigError); file (DecodeError).
  for (const char* field : {"problem", "source", "op", "key_path", "where", "file", "repo_id", "kind"})
    py::setattr(error, field, py::none());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pf::ConfigError& e) {
      raise_error(config_error, e, {{"key_path", e.key_path()}, {"where", e.where()}});
    } catch (const pf::DecodeError& e) {
      raise_error(decode_error, e, {{"file", e.file()}});
    } catch (const pf::InputError& e) {
      raise_error(input_error, e);
    } catch (const pf::OutOfMemoryError& e) {
      raise_error(oom_error, e);
    } catch (const pf::KernelError& e) {
      raise_error(kernel_error, e);
    } catch (const pf::HubError& e) {
      raise_error(hub_error, e, {{"repo_id", e.repo_id()}, {"kind", hub_error_kind(e.kind())}});
    } catch (const pf::Error& e) {
      raise_error(error, e);
    } catch (const nlohmann::json::exception& e) {
      py::set_error(error, (std::string("invalid JSON from the Python layer: ") + e.what()).c_str());
    }
  });

}

// Processor configs: the supported classes, from_pretrained and from_dict.
void bind_configs(py::module_& m) {
  m.def("supported_classes", &pp::supported_processor_classes);
  m.def("set_bundled_models_dir", &pp::set_bundled_models_dir, py::arg("dir"));
  m.def("has_semantic_segmentation", &pp::has_semantic_segmentation, py::arg("class_name"));
  m.def("takes_detection_annotations", &pp::takes_detection_annotations, py::arg("class_name"));

  m.def(
      "load_config",
      [](const std::string& path, const std::string& overrides, std::optional<std::string> cls,
         std::optional<std::string> revision) {
        pp::ProcessorConfig cfg;
        {
          py::gil_scoped_release nogil;
          cfg = pp::load_processor_config(path, load_options(overrides, cls, revision));
        }
        return config_tuple(cfg);
      },
      py::arg("path_or_id"), py::arg("overrides_json") = "{}", py::arg("processor_class") = py::none(),
      py::arg("revision") = py::none(),
      "(class_name, to_dict JSON, unused kwargs, warnings, source) for from_pretrained(path_or_id, **overrides)");
  m.def(
      "hub_token", [](std::optional<std::string> token) { return pp::hub::resolve_token(token); },
      py::arg("token") = py::none(), "the token a Hub request sends: the given one, else HF_TOKEN, else the token file");
  // save_pretrained(push_to_hub=True): commits the saved file's bytes (pipelines/hub/hub.h).
  m.def(
      "upload_file",
      [](const std::string& repo_id, const std::string& path_in_repo, const py::bytes& content,
         std::optional<std::string> token, bool use_token, std::optional<bool> private_repo,
         const std::string& commit_message, const std::string& commit_description, const std::string& revision,
         const std::map<std::string, std::string>& proxies, bool create_repo) {
        pp::hub::CommitOptions o;
        o.connection.token = std::move(token);
        o.connection.use_token = use_token;
        o.connection.proxies = proxies;
        o.private_repo = private_repo;
        o.commit_message = commit_message;
        o.commit_description = commit_description;
        o.revision = revision;
        o.create_repo = create_repo;
        const std::string bytes = content;
        pp::hub::CommitInfo info;
        {
          py::gil_scoped_release nogil;
          info = pp::hub::upload_file(repo_id, path_in_repo, bytes, o);
        }
        return py::make_tuple(info.commit_url, info.commit_oid);
      },
      py::arg("repo_id"), py::arg("path_in_repo"), py::arg("content"), py::arg("token") = py::none(),
      py::arg("use_token") = true, py::arg("private") = py::none(), py::arg("commit_message") = "Upload processor",
      py::arg("commit_description") = "", py::arg("revision") = "main",
      py::arg("proxies") = std::map<std::string, std::string>{}, py::arg("create_repo") = true,
      "(commit URL, commit oid) of create_repo(exist_ok=True) + create_commit with one file");
  m.def(
      "config_from_json_text",
      [](const std::string& text, const std::string& source, const std::string& overrides,
         std::optional<std::string> cls) {
        return config_tuple(pp::processor_config_from_json_text(text, source, load_options(overrides, cls, {})));
      },
      py::arg("text"), py::arg("source"), py::arg("overrides_json") = "{}", py::arg("processor_class") = py::none());
}

// Preprocessing calls and the DataLoader.
void bind_calls(py::module_& m) {
  py::class_<CallOptionsIn>(m, "CallOptions")
      .def(py::init<>())
      .def_readwrite("return_tensors", &CallOptionsIn::return_tensors)
      .def_readwrite("threads", &CallOptionsIn::threads)
      .def_readwrite("skip_failed", &CallOptionsIn::skip_failed)
      .def_readwrite("max_image_pixels", &CallOptionsIn::max_image_pixels)
      .def_readwrite("fuse", &CallOptionsIn::fuse);

  py::class_<Call, std::shared_ptr<Call>>(m, "Call")
      .def(py::init<const std::string&, const std::string&, const std::string&, const CallOptionsIn&>(),
           py::arg("class_name"), py::arg("attributes_json"), py::arg("kwargs_json"), py::arg("options"))
      .def_property_readonly("warnings", &Call::warnings)
      .def_property_readonly("unused_kwargs", &Call::unused_kwargs)
      .def_property_readonly("video", &Call::video)
      .def("describe", &Call::describe)
      .def("run", &Call::run, py::arg("inputs"))
      .def("run_videos", &Call::run_videos, py::arg("videos"))
      .def("run_groups", &Call::run_groups, py::arg("groups"))
      .def("run_frames", &Call::run_frames, py::arg("videos"));

  py::class_<Loader>(m, "Loader")
      .def(py::init<const Call&, const py::list&, const py::dict&>(), py::keep_alive<1, 2>())
      .def("next", &Loader::next)
      .def("close", &Loader::close);

}

// post_process_semantic_segmentation.
void bind_post_processing(py::module_& m) {
  m.def(
      "post_process_semantic_segmentation",
      [](const std::string& class_name, const std::string& attributes_json, const py::array& logits,
         const std::vector<std::pair<int64_t, int64_t>>& sizes, int threads) {
        pp::ProcessorConfig cfg;
        cfg.class_name = class_name;
        cfg.attributes = parse_json(attributes_json);
        pf::Tensor t = tensor_from_array(logits, "logits");
        std::vector<pf::Tensor> maps;
        {
          py::gil_scoped_release nogil;
          pf::RunOptions run;
          run.threads = threads;
          maps = pp::post_process_semantic_segmentation(cfg, t, sizes, run);
        }
        py::list out;
        for (const auto& m : maps) out.append(array_from_tensor(m));
        return out;
      },
      py::arg("class_name"), py::arg("attributes_json"), py::arg("logits"), py::arg("target_sizes"),
      py::arg("threads") = 0);

  m.def("object_detection_classes", &pp::object_detection_classes);
  m.def("has_object_detection", &pp::has_object_detection, py::arg("class_name"));
  // post_process_object_detection: one (scores, labels, boxes) tuple of arrays per image.
  // target_sizes_dtype: "float32", "float64" or "int64" (the dtype of the tensor torch scales by).
  m.def(
      "post_process_object_detection",
      [](const std::string& class_name, const py::array& logits, const py::array& pred_boxes, double threshold,
         std::optional<std::vector<std::pair<double, double>>> target_sizes,
         std::optional<std::string> target_sizes_dtype, std::optional<int64_t> top_k,
         std::optional<bool> use_focal_loss, int threads) {
        pp::DetectionOptions opts;
        opts.threshold = threshold;
        opts.target_sizes = std::move(target_sizes);
        if (target_sizes_dtype) {
          if (*target_sizes_dtype == "float32") opts.target_sizes_dtype = pf::DType::kFloat32;
          else if (*target_sizes_dtype == "float64") opts.target_sizes_dtype = pf::DType::kFloat64;
          else if (*target_sizes_dtype == "int64") opts.target_sizes_dtype = pf::DType::kInt64;
          else throw pf::InputError("target_sizes: unsupported dtype " + *target_sizes_dtype);
        }
        opts.top_k = top_k;
        opts.use_focal_loss = use_focal_loss;
        pf::Tensor l = tensor_from_array(logits, "logits");
        pf::Tensor b = tensor_from_array(pred_boxes, "pred_boxes");
        std::vector<pp::DetectionResult> results;
        {
          py::gil_scoped_release nogil;
          pf::RunOptions run;
          run.threads = threads;
          results = pp::post_process_object_detection(class_name, l, b, opts, run);
        }
        py::list out;
        for (const auto& r : results)
          out.append(py::make_tuple(array_from_tensor(r.scores), array_from_tensor(r.labels),
                                    array_from_tensor(r.boxes)));
        return out;
      },
      py::arg("class_name"), py::arg("logits"), py::arg("pred_boxes"), py::arg("threshold"),
      py::arg("target_sizes"), py::arg("target_sizes_dtype"), py::arg("top_k"), py::arg("use_focal_loss"),
      py::arg("threads") = 0);

}

// Inputs: folder listing and image loading.
void bind_inputs(py::module_& m) {
  m.def("list_inputs", [](const std::string& arg, bool recursive) {
    std::vector<std::string> files;
    {
      py::gil_scoped_release nogil;
      files = pp::list_inputs(pp::source_from_argument(arg, recursive));
    }
    return files;
  }, py::arg("source"), py::arg("recursive") = false);

  m.def("load_image_rgb", &load_image_rgb, py::arg("source"), py::arg("name"));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pixelflow's C++ core (use the pixelflow package, not this module)";

  bind_errors(m);
  bind_configs(m);
  bind_calls(m);
  bind_post_processing(m);
  bind_inputs(m);
}
