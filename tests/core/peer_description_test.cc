// SPDX-License-Identifier: Apache-2.0
// The JSON form of PeerDescription: round trip, and a clear error for each malformed field.

#include "core/peer_description.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;

PeerDescription Sample() {
  PeerDescription d;
  d.node_id = "gpu-1";
  d.envelope_version = 1;
  d.version = "0.1.0";
  d.step_ids = {"blazen::echo", "blazen::embed"};
  d.default_workflows = {{"echo", {"blazen::echo"}}, {"embed", {"blazen::embed"}}};
  d.devices = {{"host", "", 64, 32, 5}, {"cuda:0", "H100", 80, 70, 9}};
  d.live_refs = {{"until_parent_finish", "cuda:0", 2, 4096}};
  return d;
}

TEST(PeerDescriptionTest, JsonRoundTrip) {
  const PeerDescription d = Sample();
  const json j = PeerDescriptionToJson(d);
  EXPECT_EQ(j["default_workflows"],
            json({{"echo", {"blazen::echo"}}, {"embed", {"blazen::embed"}}}));
  EXPECT_EQ(j["devices"][1]["pool_in_use_bytes"], 9);
  BLAZEN_ASSERT_OK_AND_ASSIGN(PeerDescription back, PeerDescriptionFromJson(j));
  EXPECT_EQ(PeerDescriptionToJson(back), j);
  EXPECT_EQ(back.devices[1].name, "H100");
  EXPECT_EQ(back.live_refs[0].bytes, 4096u);
  ASSERT_EQ(back.default_workflows.size(), 2u);
  EXPECT_EQ(back.default_workflows[1].workflow_name, "embed");
}

TEST(PeerDescriptionTest, MalformedFieldsAreNamed) {
  const json good = PeerDescriptionToJson(Sample());
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j.erase("node_id"); }, "missing \"node_id\""},
      {[](json& j) { j["envelope_version"] = "one"; }, "\"envelope_version\" has the wrong type"},
      {[](json& j) { j["default_workflows"] = 5; }, "\"default_workflows\""},
      {[](json& j) { j["devices"] = json::object(); }, "\"devices\" must be an array"},
      {[](json& j) { j["devices"][0].erase("location"); }, "missing \"location\""},
      {[](json& j) { j["live_refs"][0]["count"] = "two"; }, "\"count\" has the wrong type"},
  };
  for (const auto& [mutate, reason] : cases) {
    json bad = good;
    mutate(bad);
    EXPECT_THAT(PeerDescriptionFromJson(bad).status(),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(reason)))
        << reason;
  }
  EXPECT_THAT(PeerDescriptionFromJson(json::array()).status(),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace blazen
