// base/sha256.h: FIPS 180-4 test vectors, hardware and portable code, streamed in any chunking.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>

#include "base/sha256.h"

using namespace pixelflow;

TEST_CASE("Sha256 gives the FIPS 180-4 digests, with and without the SHA instructions", "[sha256]") {
  const std::string million(1000000, 'a');
  const std::pair<std::string, const char*> vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (bool hardware : {true, false}) {
    for (const auto& [text, digest] : vectors) {
      INFO("hardware " << hardware << ", " << text.size() << " bytes");
      Sha256 h(hardware);
      h.update(text);
      CHECK(h.hex_digest() == digest);
    }
  }
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("Sha256 digests do not depend on how the input is cut", "[sha256]") {
  std::mt19937 rng(9);
  std::string data(5000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const std::string whole = sha256_hex(data);
  for (bool hardware : {true, false}) {
    for (size_t chunk : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}}) {
      Sha256 h(hardware);
      for (size_t i = 0; i < data.size(); i += chunk) h.update(data.data() + i, std::min(chunk, data.size() - i));
      INFO("hardware " << hardware << ", chunks of " << chunk);
      CHECK(h.hex_digest() == whole);
    }
  }
}
