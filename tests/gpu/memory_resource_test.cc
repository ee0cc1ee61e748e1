// SPDX-License-Identifier: Apache-2.0
// The MemoryResource contract for the host-side implementations.

#include "gpu/memory_resource.h"

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "gpu/device_pool.h"
#include "tests/gpu/fake_resources.h"
#include "tests/gpu/memory_resource_contract.h"

namespace blazen::gpu::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    HostResources, MemoryResourceContractTest,
    ::testing::Values(
        ResourceFactory{"Host", [] { return std::make_unique<HostMemoryResource>(); }},
        ResourceFactory{"DevicePoolOverHost",
                        []() -> std::unique_ptr<MemoryResource> {
                          auto pool = DevicePool::Create(std::make_unique<HostMemoryResource>(),
                                                         std::uint64_t{1} << 30);
                          return pool.ok() ? std::move(*pool) : nullptr;
                        }},
        ResourceFactory{"DevicePoolOverLimitingUpstream",
                        []() -> std::unique_ptr<MemoryResource> {
                          auto pool = DevicePool::Create(
                              std::make_unique<LimitingResource>(std::size_t{64} << 20),
                              std::uint64_t{1} << 30);
                          return pool.ok() ? std::move(*pool) : nullptr;
                        }}),
    ResourceName);

}  // namespace
}  // namespace blazen::gpu::testing
