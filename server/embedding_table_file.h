// SPDX-License-Identifier: Apache-2.0
#pragma once
// Embedding-table files for blazen::embed: a 2-D float array in an .npy file or in a
// .safetensors file (the format model weights are usually published in). Inspect reads and checks
// only the header, so a bad file fails when the peer starts; Read loads the data as float32.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace blazen::server {

/// Element types a table file may hold; all are converted to float32 on load.
enum class TableElement : std::uint8_t { kF32, kF16, kBF16 };

/// Where a table's data lies in its file.
struct TableFileInfo {
  std::string path;
  /// "npy" or "safetensors".
  std::string format;
  /// The safetensors tensor used (empty for .npy).
  std::string tensor_name;
  TableElement element = TableElement::kF32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  /// Absolute byte offset of the first element in the file.
  std::uint64_t data_offset = 0;
};

/// Reads and checks the header of the table file at `path`. The format is recognized by content:
/// the NPY magic, else a safetensors header (8-byte little-endian JSON length, then the JSON).
/// NPY: format 1.0-3.0, '<f4' or '<f2', C order. safetensors: the tensor named `tensor_name`, or
/// when it is empty the file's only tensor (several tensors need a name: the error lists them);
/// dtype F32, F16 or BF16; data_offsets inside the file. Both: a non-empty 2-D shape whose byte
/// size matches the data. kNotFound when the file cannot be opened; kInvalidArgument naming the
/// path and the problem otherwise.
[[nodiscard]] Result<TableFileInfo> InspectTableFile(const std::string& path,
                                                     const std::string& tensor_name = "");

/// The rows * cols elements described by `info`, converted to float32 (row-major).
/// kResourceExhausted when the host memory cannot be allocated; kInvalidArgument when the file
/// cannot be read (e.g. it changed since InspectTableFile).
[[nodiscard]] Result<std::vector<float>> ReadTableFile(const TableFileInfo& info);

}  // namespace blazen::server
