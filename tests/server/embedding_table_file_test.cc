// SPDX-License-Identifier: Apache-2.0
// Embedding-table files: .npy and .safetensors headers, dtype conversion and every rejection.

#include "server/embedding_table_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/half.h"
#include "server/gpu_steps.h"
#include "tests/testing/status_matchers.h"

namespace blazen::server {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("BLAZEN_TEST_TMPDIR");
  const std::filesystem::path base =
      dir != nullptr ? std::filesystem::path(dir) : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(base);
  return (base / (std::to_string(::getpid()) + "_" + name)).string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::string Raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A safetensors file: u64 little-endian header length, the JSON header, then `data`.
std::string Safetensors(const json& header, const std::string& data) {
  const std::string text = header.dump();
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff));
  }
  return out + text + data;
}

std::vector<float> Values(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f) * 3.0f;
  return v;
}

std::uint16_t ToBf16(float value) {  // truncation: exact for the values compared below
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return static_cast<std::uint16_t>(bits >> 16);
}

TEST(TableFileTest, SafetensorsF32SingleTensor) {
  const std::vector<float> table = Values(5 * 3);
  const std::string path = TempPath("single.safetensors");
  WriteBytes(
      path,
      Safetensors({{"__metadata__", {{"format", "pt"}}},
                   {"weight", {{"dtype", "F32"}, {"shape", {5, 3}}, {"data_offsets", {0, 60}}}}},
                  Raw(table)));
  Result<TableFileInfo> info = InspectTableFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, "safetensors");
  EXPECT_EQ(info->tensor_name, "weight");
  EXPECT_EQ(info->rows, 5);
  EXPECT_EQ(info->cols, 3);
  Result<std::vector<float>> data = ReadTableFile(*info);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, table);
  std::filesystem::remove(path);
}

TEST(TableFileTest, SafetensorsHalfTypesAreWidenedAndNamedTensorsChosen) {
  const std::vector<float> values = Values(4 * 2);
  std::vector<std::uint16_t> f16, bf16;
  std::vector<float> f16_expected, bf16_expected;
  for (float v : values) {
    f16.push_back(kernels::FloatToHalf(v));
    f16_expected.push_back(kernels::HalfToFloat(f16.back()));
    bf16.push_back(ToBf16(v));
    std::uint32_t bits = static_cast<std::uint32_t>(bf16.back()) << 16;
    float widened;
    std::memcpy(&widened, &bits, sizeof(widened));
    bf16_expected.push_back(widened);
  }
  const std::string path = TempPath("two.safetensors");
  // A 16-byte tensor first, so the second one's offsets are not 0.
  WriteBytes(
      path,
      Safetensors({{"a.half", {{"dtype", "F16"}, {"shape", {4, 2}}, {"data_offsets", {0, 16}}}},
                   {"b.brain", {{"dtype", "BF16"}, {"shape", {4, 2}}, {"data_offsets", {16, 32}}}}},
                  Raw(f16) + Raw(bf16)));
  EXPECT_THAT(InspectTableFile(path).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("a.half, b.brain")));
  EXPECT_THAT(InspectTableFile(path, "c").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no tensor named 'c'")));
  Result<TableFileInfo> half = InspectTableFile(path, "a.half");
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(*ReadTableFile(*half), f16_expected);
  Result<TableFileInfo> brain = InspectTableFile(path, "b.brain");
  ASSERT_TRUE(brain.ok()) << brain.status();
  EXPECT_EQ(brain->element, TableElement::kBF16);
  EXPECT_EQ(*ReadTableFile(*brain), bf16_expected);
  std::filesystem::remove(path);
}

TEST(TableFileTest, NpyHalfTableIsWidened) {
  std::vector<std::uint16_t> f16;
  std::vector<float> expected;
  for (float v : Values(3 * 4)) {
    f16.push_back(kernels::FloatToHalf(v));
    expected.push_back(kernels::HalfToFloat(f16.back()));
  }
  const std::string path = TempPath("half.npy");
  WriteBytes(path, NpyHeader(DType::kF16, std::vector<std::int64_t>{3, 4}) + Raw(f16));
  Result<TableFileInfo> info = InspectTableFile(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, "npy");
  EXPECT_EQ(*ReadTableFile(*info), expected);
  EXPECT_THAT(InspectTableFile(path, "weight").status(), StatusIs(StatusCode::kInvalidArgument));
  std::filesystem::remove(path);
}

TEST(TableFileTest, BadSafetensorsFilesAreRejectedWithTheReason) {
  const std::string data(48, '\0');
  const json ok_entry = {{"dtype", "F32"}, {"shape", {4, 3}}, {"data_offsets", {0, 48}}};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short", "too short"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "out of range"},
      {Safetensors(json("not an object"), data), "not a JSON object"},
      {std::string("\x05\0\0\0\0\0\0\0", 8) + "{\"a\":" + data, "not a JSON object"},
      {Safetensors(json::object(), data), "holds 0 tensors"},
      {Safetensors({{"w", {{"dtype", "F64"}, {"shape", {4, 3}}, {"data_offsets", {0, 96}}}}},
                   data + data),
       "F32, F16 or BF16"},
      {Safetensors({{"w", {{"dtype", "F32"}, {"shape", {12}}, {"data_offsets", {0, 48}}}}}, data),
       "non-empty 2-D"},
      {Safetensors({{"w", {{"dtype", "F32"}, {"shape", {4, -3}}, {"data_offsets", {0, 48}}}}},
                   data),
       "non-negative"},
      {Safetensors({{"w", {{"dtype", "F32"}, {"shape", {4, 3}}, {"data_offsets", {0, 40}}}}}, data),
       "do not hold the 48 bytes"},
      {Safetensors({{"w", ok_entry}}, data.substr(0, 47)), "past the file"},
      {Safetensors({{"w", {{"dtype", "F32"}, {"shape", {4, 3}}}}}, data), "data_offsets"},
      {Safetensors({{"w",
                     {{"dtype", "F32"},
                      {"shape", {4294967296ull, 4294967296ull}},
                      {"data_offsets", {0, 48}}}}},
                   data),
       "below 2^31"},
  };
  const std::string path = TempPath("bad.safetensors");
  for (const auto& [bytes, reason] : cases) {
    WriteBytes(path, bytes);
    EXPECT_THAT(InspectTableFile(path).status(),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(reason)))
        << reason;
  }
  WriteBytes(path, Safetensors({{"w", ok_entry}}, data));
  EXPECT_TRUE(InspectTableFile(path).ok());
  EXPECT_THAT(InspectTableFile(TempPath("missing.safetensors")).status(),
              StatusIs(StatusCode::kNotFound));
  std::filesystem::remove(path);
}

TEST(TableFileTest, EmbeddingModelLoadsASafetensorsTable) {
  const std::vector<float> table = Values(7 * 4);
  const std::string path = TempPath("model.safetensors");
  WriteBytes(path, Safetensors(
                       {{"emb", {{"dtype", "F32"}, {"shape", {7, 4}}, {"data_offsets", {0, 112}}}}},
                       Raw(table)));
  EmbeddingModelOptions options;
  options.table_path = path;
  options.table_tensor = "emb";
  Result<std::shared_ptr<EmbeddingModel>> model = EmbeddingModel::Create(options);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->vocab(), 7);
  EXPECT_EQ((*model)->dim(), 4);
  options.table_tensor = "other";
  EXPECT_THAT(EmbeddingModel::Create(options).status(), StatusIs(StatusCode::kInvalidArgument));
  options.table_path.clear();
  EXPECT_THAT(EmbeddingModel::Create(options).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs a table file")));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace blazen::server
