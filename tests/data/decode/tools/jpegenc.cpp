// Test-fixture helper: writes JPEGs with any libjpeg setting (sampling factors, YCCK, arithmetic
// coding, restart intervals) that Pillow cannot produce. Build: g++ -O2 jpegenc.cpp -ljpeg -o jpegenc
// Usage: jpegenc in.raw width height components out.jpg [q=N samp=HxV,... prog=1 arith=1
//        restart=N restart_rows=N cs=ycc|rgb|gray|ycck|cmyk optimize=1 smooth=N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <jpeglib.h>
int main(int argc, char** argv) {
  if (argc < 6) { fprintf(stderr, "usage\n"); return 2; }
  FILE* f = fopen(argv[1], "rb");
  int w = atoi(argv[2]), h = atoi(argv[3]), comps = atoi(argv[4]);
  std::vector<unsigned char> px(size_t(w) * h * comps);
  if (fread(px.data(), 1, px.size(), f) != px.size()) { fprintf(stderr, "short\n"); return 2; }
  fclose(f);
  jpeg_compress_struct c; jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  FILE* out = fopen(argv[5], "wb");
  jpeg_stdio_dest(&c, out);
  c.image_width = w; c.image_height = h; c.input_components = comps;
  c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&c);
  int q = 85; std::string samp, cs; bool prog = false;
  for (int i = 6; i < argc; ++i) {
    std::string a = argv[i]; auto eq = a.find('='); std::string k = a.substr(0, eq), v = a.substr(eq + 1);
    if (k == "q") q = atoi(v.c_str());
    else if (k == "samp") samp = v;
    else if (k == "prog") prog = v == "1";
    else if (k == "arith") c.arith_code = v == "1";
    else if (k == "restart") c.restart_interval = atoi(v.c_str());
    else if (k == "restart_rows") c.restart_in_rows = atoi(v.c_str());
    else if (k == "cs") cs = v;
    else if (k == "optimize") c.optimize_coding = v == "1";
    else if (k == "smooth") c.smoothing_factor = atoi(v.c_str());
  }
  if (cs == "rgb") jpeg_set_colorspace(&c, JCS_RGB);
  else if (cs == "ycck") jpeg_set_colorspace(&c, JCS_YCCK);
  else if (cs == "cmyk") jpeg_set_colorspace(&c, JCS_CMYK);
  else if (cs == "gray") jpeg_set_colorspace(&c, JCS_GRAYSCALE);
  else if (cs == "ycc") jpeg_set_colorspace(&c, JCS_YCbCr);
  jpeg_set_quality(&c, q, TRUE);
  if (!samp.empty()) {
    int ci = 0; size_t p = 0;
    while (p < samp.size() && ci < c.num_components) {
      int hh = samp[p] - '0', vv = samp[p + 2] - '0';
      c.comp_info[ci].h_samp_factor = hh; c.comp_info[ci].v_samp_factor = vv; ci++; p += 4;
    }
  }
  if (prog) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = px.data() + size_t(c.next_scanline) * w * comps;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(out);
}
