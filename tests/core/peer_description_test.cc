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
  d.labels = {{"gpu", "h100"}, {"region", "eu-west"}};
  d.gpu_model = "H100";
  d.capacity_weight = 2.5;
  d.load = {7, 3, 1, 8, 1000, 2000, 3000, 2.5};
  return d;
}

TEST(PeerDescriptionTest, FleetFieldsRoundTripAndAreOptionalWhenReading) {
  const json j = PeerDescriptionToJson(Sample());
  EXPECT_EQ(j["labels"]["gpu"], "h100");
  EXPECT_EQ(j["capacity_weight"], 2.5);
  EXPECT_EQ(j["load"]["queued"], 1);
  BLAZEN_ASSERT_OK_AND_ASSIGN(PeerDescription back, PeerDescriptionFromJson(j));
  EXPECT_EQ(back.labels, Sample().labels);
  EXPECT_EQ(back.gpu_model, "H100");
  EXPECT_EQ(back.load, Sample().load);
  // A description from a peer that predates these fields.
  json old = j;
  for (const char* key : {"labels", "gpu_model", "capacity_weight", "load"}) old.erase(key);
  BLAZEN_ASSERT_OK_AND_ASSIGN(PeerDescription older, PeerDescriptionFromJson(old));
  EXPECT_TRUE(older.labels.empty());
  EXPECT_EQ(older.capacity_weight, 1.0);
  EXPECT_EQ(older.load.seq, 0u);
  json bad = j;
  bad["labels"]["gpu"] = 5;
  EXPECT_THAT(PeerDescriptionFromJson(bad), StatusIs(StatusCode::kInvalidArgument));
  bad = j;
  bad["load"].erase("in_flight");
  EXPECT_THAT(PeerDescriptionFromJson(bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("in_flight")));
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
