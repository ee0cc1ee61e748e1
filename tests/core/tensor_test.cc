// SPDX-License-Identifier: Apache-2.0
// DType helpers, NPY v1.0 headers compared byte for byte with numpy's output, HostTensorValue
// validation and chunked reads, and (when numpy is installed) numpy.load of a served payload.

#include "core/tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/session_ref.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

namespace fs = std::filesystem;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

template <typename T>
std::vector<std::uint8_t> AsBytes(const std::vector<T>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<std::uint8_t> Payload(const SessionValue& value) {
  std::vector<std::uint8_t> out(value.size_bytes());
  EXPECT_THAT(value.Read(0, out), ::blazen::testing::IsOk());
  return out;
}

// The header numpy writes: preamble with `header_len`, the dict text, `spaces` pad bytes, '\n'.
std::string NumpyHeader(std::uint16_t header_len, std::string_view dict, std::size_t spaces) {
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header_len & 0xFF));
  out.push_back(static_cast<char>(header_len >> 8));
  out += dict;
  out.append(spaces, ' ');
  out.push_back('\n');
  return out;
}

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kI32), 4u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kU8), 1u);
  EXPECT_EQ(DTypeName(DType::kF32), "f32");
  EXPECT_EQ(DTypeName(DType::kF16), "f16");
  EXPECT_EQ(DTypeName(DType::kI32), "i32");
  EXPECT_EQ(DTypeName(DType::kI64), "i64");
  EXPECT_EQ(DTypeName(DType::kU8), "u8");
}

TEST(DTypeTest, ParseRoundTripsAndRejectsOtherNames) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kI32, DType::kI64, DType::kU8}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(DType parsed, ParseDType(DTypeName(dtype)));
    EXPECT_EQ(parsed, dtype);
  }
  for (const char* bad : {"", "F32", "float32", "<f4", "f64", "u8 "}) {
    EXPECT_THAT(ParseDType(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("f16"))) << bad;
  }
}

struct NpyCase {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::string expected;
};

// Byte-exact output of numpy 1.24's numpy.save for these arrays.
TEST(NpyHeaderTest, MatchesNumpyOutputByteForByte) {
  const std::vector<NpyCase> cases = {
      {DType::kF32,
       {3, 4},
       NumpyHeader(118, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 58)},
      {DType::kF32,
       {5},
       NumpyHeader(118, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 60)},
      {DType::kF16,
       {},
       NumpyHeader(118, "{'descr': '<f2', 'fortran_order': False, 'shape': (), }", 62)},
      {DType::kI64,
       {2, 3, 4},
       NumpyHeader(118, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3, 4), }", 55)},
      {DType::kU8,
       {0},
       NumpyHeader(118, "{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }", 60)},
      {DType::kI32,
       {1, 1},
       NumpyHeader(118, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }", 58)},
      {DType::kU8,
       {7, 0, 3},
       NumpyHeader(118, "{'descr': '|u1', 'fortran_order': False, 'shape': (7, 0, 3), }", 55)},
      {DType::kI64,
       {9223372036854775807},
       NumpyHeader(
           118, "{'descr': '<i8', 'fortran_order': False, 'shape': (9223372036854775807,), }", 42)},
      // Already 64-aligned before padding: numpy then pads a full 64 bytes.
      {DType::kF32,
       {1, 10, 100, 1000, 10000, 100000, 100000000},
       NumpyHeader(182,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 10, 100, 1000, 10000, "
                   "100000, 100000000), }",
                   84)},
  };
  for (const NpyCase& c : cases) {
    const std::string header = NpyHeader(c.dtype, c.shape);
    EXPECT_EQ(header, c.expected) << DTypeName(c.dtype) << " ndim " << c.shape.size();
  }
  // The spec's example in full.
  const std::string f4_3x4 = NpyHeader(DType::kF32, std::vector<std::int64_t>{3, 4});
  ASSERT_EQ(f4_3x4.size(), 128u);
  EXPECT_EQ(f4_3x4.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  EXPECT_EQ(f4_3x4.back(), '\n');
}

TEST(NpyHeaderTest, LengthFieldAndAlignmentHoldForManyShapes) {
  for (std::size_t ndim = 0; ndim <= kNpyMaxDims; ++ndim) {
    for (std::int64_t base : {std::int64_t{0}, std::int64_t{7}, std::int64_t{123456},
                              std::numeric_limits<std::int64_t>::max()}) {
      const std::vector<std::int64_t> shape(ndim, base);
      const std::string header = NpyHeader(DType::kF32, shape);
      EXPECT_EQ(header.size() % 64, 0u) << ndim << " x " << base;
      const std::size_t len = static_cast<std::uint8_t>(header[8]) |
                              (static_cast<std::size_t>(static_cast<std::uint8_t>(header[9])) << 8);
      EXPECT_EQ(len + 10, header.size());
      EXPECT_EQ(header.back(), '\n');
    }
  }
}

class TempDir {
 public:
  TempDir() {
    fs::path parent = fs::temp_directory_path();
    if (const char* env = std::getenv("BLAZEN_TEST_TMPDIR"); env != nullptr && *env != '\0') {
      parent = env;
    }
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string templ = (parent / "blazen-tensor-XXXXXX").string();
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool HaveNumpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

// Cross-checks NpyHeader against the installed numpy for shapes the table above does not cover.
TEST(NpyHeaderTest, MatchesInstalledNumpyForManyShapes) {
  if (!HaveNumpy()) GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());

  struct Shape {
    DType dtype;
    std::vector<std::int64_t> dims;
  };
  std::vector<Shape> shapes;
  const DType dtypes[] = {DType::kF32, DType::kF16, DType::kI32, DType::kI64, DType::kU8};
  std::uint64_t rng = 42;
  for (int i = 0; i < 300; ++i) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    Shape s{dtypes[(rng >> 33) % 5], {}};
    const std::size_t ndim = (rng >> 40) % 12;
    for (std::size_t d = 0; d < ndim; ++d) {
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      const int digits = static_cast<int>((rng >> 35) % 19);  // 1 .. 10^18
      std::int64_t dim = 1;
      for (int k = 0; k < digits; ++k) dim *= 10;
      s.dims.push_back(dim - static_cast<std::int64_t>((rng >> 20) % 2));
    }
    shapes.push_back(std::move(s));
  }
  std::ostringstream script;
  script << "import io, numpy, numpy.lib.format as f, sys\n"
         << "out = open(sys.argv[1], 'wb')\n"
         << "for descr, shape in [\n";
  for (const Shape& s : shapes) {
    const std::string header = NpyHeader(s.dtype, s.dims);
    const std::string descr = header.substr(21, 3);  // after "{'descr': '"
    script << "  ('" << descr << "', (";
    for (std::int64_t d : s.dims) script << d << ",";
    script << ")),\n";
  }
  script << "]:\n"
         << "  b = io.BytesIO()\n"
         << "  f.write_array_header_1_0(b, {'descr': descr, 'fortran_order': False, "
            "'shape': shape})\n"
         << "  out.write(b.getvalue())\n";
  WriteFile(dir.path() / "gen.py", script.str());
  const std::string command = "/usr/bin/python3 '" + (dir.path() / "gen.py").string() + "' '" +
                              (dir.path() / "headers.bin").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  const std::string expected = ReadFile(dir.path() / "headers.bin");
  std::size_t pos = 0;
  for (const Shape& s : shapes) {
    const std::string header = NpyHeader(s.dtype, s.dims);
    ASSERT_LE(pos + header.size(), expected.size());
    EXPECT_EQ(header, expected.substr(pos, header.size()))
        << DTypeName(s.dtype) << " ndim " << s.dims.size();
    pos += header.size();
  }
  EXPECT_EQ(pos, expected.size());
}

TEST(HostTensorValueTest, CreateRejectsInconsistentShapesAndData) {
  EXPECT_THAT(HostTensorValue::Create(DType::kF32, {2, -1}, {}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("negative")));
  EXPECT_THAT(HostTensorValue::Create(DType::kF32, {2, 3}, std::vector<std::uint8_t>(23)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("24")));
  EXPECT_THAT(HostTensorValue::Create(DType::kI64, {}, std::vector<std::uint8_t>(4)),
              StatusIs(StatusCode::kInvalidArgument));
  // Element count and byte size overflow: must be rejected, not wrapped to a small number.
  EXPECT_THAT(HostTensorValue::Create(DType::kU8, {std::int64_t{1} << 62, 8}, {}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("overflow")));
  EXPECT_THAT(HostTensorValue::Create(DType::kI64, {std::int64_t{1} << 61, 1}, {}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("overflow")));
  // 2^32 * 2^32 wraps to 0 elements, which would match empty data if unchecked.
  EXPECT_THAT(
      HostTensorValue::Create(DType::kU8, {std::int64_t{1} << 32, std::int64_t{1} << 32}, {}),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(HostTensorValue::Create(DType::kU8, std::vector<std::int64_t>(kNpyMaxDims + 1, 1),
                                      std::vector<std::uint8_t>(1)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("dims")));

  // A zero dim makes an empty tensor whatever the other dims are.
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto empty, HostTensorValue::Create(DType::kF32, {0, std::int64_t{1} << 62, 1 << 30}, {}));
  EXPECT_EQ(empty->size_bytes(), empty->header().size());
  BLAZEN_EXPECT_OK(
      HostTensorValue::Create(DType::kU8, std::vector<std::int64_t>(kNpyMaxDims, 1), {9}));
}

TEST(TensorElementCountTest, CountsElements) {
  EXPECT_EQ(TensorElementCount(DType::kF32, std::vector<std::int64_t>{}).value(), 1u);
  EXPECT_EQ(TensorElementCount(DType::kF32, std::vector<std::int64_t>{3, 4, 5}).value(), 60u);
  EXPECT_EQ(TensorElementCount(DType::kI64, std::vector<std::int64_t>{9, 0}).value(), 0u);
}

TEST(HostTensorValueTest, ReportsTagSizeAndLocation) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f};
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor,
                              HostTensorValue::Create(DType::kF32, {2, 3}, AsBytes(values)));
  EXPECT_EQ(tensor->type_tag(), "tensor.npy");
  EXPECT_EQ(tensor->location(), "host");
  EXPECT_EQ(tensor->dtype(), DType::kF32);
  EXPECT_EQ(tensor->shape(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(tensor->header().size(), 128u);
  EXPECT_EQ(tensor->size_bytes(), 128u + 24u);
  EXPECT_EQ(tensor->resident_bytes(), 128u + 24u);

  const std::vector<std::uint8_t> payload = Payload(*tensor);
  const std::string header = NpyHeader(DType::kF32, std::vector<std::int64_t>{2, 3});
  EXPECT_EQ(std::string(payload.begin(), payload.begin() + 128), header);
  EXPECT_EQ(std::vector<std::uint8_t>(payload.begin() + 128, payload.end()), AsBytes(values));
}

TEST(HostTensorValueTest, ChunkedReadsReassembleThePayloadExactly) {
  std::vector<std::int32_t> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<std::int32_t>(i * 2654435761u);
  }
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor,
                              HostTensorValue::Create(DType::kI32, {10, 100}, AsBytes(values)));
  std::string expected = tensor->header();
  const std::vector<std::uint8_t> data = AsBytes(values);
  expected.append(data.begin(), data.end());
  ASSERT_EQ(tensor->size_bytes(), expected.size());

  for (std::size_t chunk : {1u, 3u, 7u, 63u, 64u, 100u, 127u, 128u, 129u, 1000u, 4096u, 5000u}) {
    std::string assembled;
    for (std::uint64_t offset = 0; offset < tensor->size_bytes(); offset += chunk) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk, tensor->size_bytes() - offset));
      std::vector<std::uint8_t> buf(n);
      ASSERT_THAT(tensor->Read(offset, buf), ::blazen::testing::IsOk()) << chunk << "@" << offset;
      assembled.append(buf.begin(), buf.end());
    }
    EXPECT_EQ(assembled, expected) << "chunk " << chunk;
  }
  // Arbitrary windows, including ones straddling the header/data boundary.
  std::uint64_t rng = 7;
  for (int i = 0; i < 500; ++i) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::uint64_t offset = (rng >> 33) % (expected.size() + 1);
    const std::uint64_t len = (rng >> 13) % (expected.size() - offset + 1);
    std::vector<std::uint8_t> buf(len);
    ASSERT_THAT(tensor->Read(offset, buf), ::blazen::testing::IsOk());
    EXPECT_EQ(std::string(buf.begin(), buf.end()), expected.substr(offset, len));
  }
}

TEST(HostTensorValueTest, ReadsPastTheEndFail) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, HostTensorValue::Create(DType::kU8, {4}, {1, 2, 3, 4}));
  const std::uint64_t size = tensor->size_bytes();
  ASSERT_EQ(size, 132u);
  std::vector<std::uint8_t> two(2, 0xEE);
  EXPECT_THAT(tensor->Read(size - 1, two), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tensor->Read(size + 1, std::span<std::uint8_t>()), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tensor->Read(std::numeric_limits<std::uint64_t>::max(), two),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_EQ(two, (std::vector<std::uint8_t>{0xEE, 0xEE}));
  BLAZEN_EXPECT_OK(tensor->Read(size - 2, two));
  EXPECT_EQ(two, (std::vector<std::uint8_t>{3, 4}));
  BLAZEN_EXPECT_OK(tensor->Read(size, std::span<std::uint8_t>()));
}

// Writes each payload, served in odd-sized chunks through a registry lease, to a file and has
// numpy load it and check dtype, shape and values.
TEST(HostTensorValueTest, NumpyLoadsTheServedPayload) {
  if (!HaveNumpy()) GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());

  struct Case {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> data;
    std::string check;  // Python expression over `a`
  };
  const std::vector<Case> cases = {
      {"f32",
       DType::kF32,
       {2, 3},
       AsBytes(std::vector<float>{1.5f, -2, 3.25f, 0, 8, -0.5f}),
       "a.dtype == numpy.float32 and a.shape == (2, 3) and a.tolist() == [[1.5, -2.0, 3.25], "
       "[0.0, 8.0, -0.5]]"},
      {"f16",
       DType::kF16,
       {3},
       AsBytes(std::vector<std::uint16_t>{0x3C00, 0xC000, 0x3800}),
       "a.dtype == numpy.float16 and a.shape == (3,) and a.tolist() == [1.0, -2.0, 0.5]"},
      {"i32",
       DType::kI32,
       {2, 1, 2},
       AsBytes(std::vector<std::int32_t>{-1, 2, 2147483647, -7}),
       "a.dtype == numpy.int32 and a.shape == (2, 1, 2) and a.ravel().tolist() == [-1, 2, "
       "2147483647, -7]"},
      {"i64",
       DType::kI64,
       {},
       AsBytes(std::vector<std::int64_t>{-9000000000}),
       "a.dtype == numpy.int64 and a.shape == () and int(a) == -9000000000"},
      {"u8", DType::kU8, {0, 5}, {}, "a.dtype == numpy.uint8 and a.shape == (0, 5)"},
  };

  SessionRefRegistry registry;
  std::ostringstream script;
  script << "import numpy, sys\n"
         << "d = sys.argv[1]\n"
         << "ok = True\n";
  for (const Case& c : cases) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, HostTensorValue::Create(c.dtype, c.shape, c.data));
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        Uuid key, registry.Insert(tensor, RefLifetime::kUntilParentFinish, RefOwner{"run", {}}));
    BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, registry.Acquire(key));
    ASSERT_EQ(lease.info().type_tag, "tensor.npy");
    std::string file;
    for (std::uint64_t offset = 0; offset < lease.value().size_bytes(); offset += 37) {
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(
          std::min<std::uint64_t>(37, lease.value().size_bytes() - offset)));
      ASSERT_THAT(lease.value().Read(offset, buf), ::blazen::testing::IsOk());
      file.append(buf.begin(), buf.end());
    }
    WriteFile(dir.path() / (c.name + ".npy"), file);
    script << "a = numpy.load(d + '/" << c.name << ".npy')\n"
           << "if not (" << c.check << "):\n"
           << "  print('mismatch " << c.name << "', a.dtype, a.shape, a.tolist()); ok = False\n";
  }
  script << "sys.exit(0 if ok else 1)\n";
  WriteFile(dir.path() / "check.py", script.str());
  const std::string command =
      "/usr/bin/python3 '" + (dir.path() / "check.py").string() + "' '" + dir.path().string() + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

// --- ParseNpyHeader
// -------------------------------------------------------------------------------

std::vector<std::uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(ParseNpyHeaderTest, ReadsBackEveryHeaderWeWrite) {
  const std::vector<std::vector<std::int64_t>> shapes = {{},     {0},       {7},
                                                         {3, 4}, {2, 0, 5}, {1, 1, 1, 9}};
  for (DType dtype : {DType::kF32, DType::kF16, DType::kI32, DType::kI64, DType::kU8}) {
    for (const auto& shape : shapes) {
      const std::string header = NpyHeader(dtype, shape);
      BLAZEN_ASSERT_OK_AND_ASSIGN(NpyInfo info, ParseNpyHeader(Bytes(header + "trailing data")));
      EXPECT_EQ(info.dtype, dtype);
      EXPECT_EQ(info.shape, shape);
      EXPECT_EQ(info.data_offset, header.size());
      EXPECT_EQ(info.data_bytes, *TensorElementCount(dtype, shape) * DTypeSize(dtype));
      EXPECT_EQ(NpyHeaderBytesNeeded(Bytes(header.substr(0, 12))), header.size());
    }
  }
}

TEST(ParseNpyHeaderTest, EveryTruncationIsAnError) {
  const std::string header = NpyHeader(DType::kF32, std::vector<std::int64_t>{3, 4});
  for (std::size_t n = 0; n < header.size(); ++n) {
    EXPECT_THAT(ParseNpyHeader(Bytes(header.substr(0, n))).status(),
                StatusIs(StatusCode::kInvalidArgument))
        << n;
  }
}

TEST(ParseNpyHeaderTest, RejectsWhatItCannotRepresent) {
  const auto header_with = [](const std::string& dict) {
    std::string out("\x93NUMPY\x01\x00", 8);
    out.push_back(static_cast<char>(dict.size() & 0xff));
    out.push_back(static_cast<char>(dict.size() >> 8));
    return out + dict;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain text file", "not an NPY file"},
      {std::string("\x93NUMPY\x09\x00\x00\x00", 10), "version 9.0"},
      {header_with("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }"), "'>f8'"},
      {header_with("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"), "Fortran"},
      {header_with("{'descr': '<f4', 'shape': (2, 2), }"), "fortran_order"},
      {header_with("{'fortran_order': False, 'shape': (2, 2), }"), "descr"},
      {header_with("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 2], }"), "shape"},
      {header_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }"), "shape"},
      {std::string("\x93NUMPY\x02\x00\xff\xff\xff\x00", 12), "exceeds 1 MiB"},
  };
  for (const auto& [bytes, reason] : cases) {
    EXPECT_THAT(ParseNpyHeader(Bytes(bytes)).status(),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(reason)))
        << reason;
  }
}

TEST(ParseNpyHeaderTest, ReadsFilesNumpyWrites) {
  TempDir dir;
  const std::string command =
      "/usr/bin/python3 -c \"import numpy, sys; d = sys.argv[1]; "
      "numpy.save(d + '/a.npy', numpy.zeros((5, 3), numpy.float32)); "
      "numpy.save(d + '/b.npy', numpy.zeros((2,), numpy.int64)); "
      "numpy.save(d + '/c.npy', numpy.asfortranarray(numpy.zeros((2, 3), numpy.float32)))\" '" +
      dir.path().string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto read = [&](const std::string& name) {
    std::ifstream file(dir.path() / name, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {});
  };
  const std::vector<std::uint8_t> a = read("a.npy");
  BLAZEN_ASSERT_OK_AND_ASSIGN(NpyInfo info, ParseNpyHeader(a));
  EXPECT_EQ(info.dtype, DType::kF32);
  EXPECT_EQ(info.shape, (std::vector<std::int64_t>{5, 3}));
  EXPECT_EQ(info.data_offset + info.data_bytes, a.size());
  BLAZEN_ASSERT_OK_AND_ASSIGN(info, ParseNpyHeader(read("b.npy")));
  EXPECT_EQ(info.dtype, DType::kI64);
  EXPECT_EQ(info.shape, (std::vector<std::int64_t>{2}));
  EXPECT_THAT(ParseNpyHeader(read("c.npy")).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Fortran")));
}

}  // namespace
}  // namespace blazen
