// SPDX-License-Identifier: Apache-2.0
#include "tests/client/pool/fake_fleet.h"

#include <thread>

namespace blazen::client::pool::testing {

namespace {

class FakeClient final : public PeerClient {
 public:
  FakeClient(std::string url, std::string node_id, std::shared_ptr<FakePeer> peer)
      : url_(std::move(url)), node_id_(std::move(node_id)), peer_(std::move(peer)) {}

  const std::string& node_id() const override { return node_id_; }
  const std::string& endpoint() const override { return url_; }

 private:
  void Trace(const CallOptions& call, bool before_sending) {
    if (call.trace == nullptr) return;
    call.trace->endpoint = url_;
    call.trace->failed_before_sending = before_sending;
    LoadReport load;
    load.seq = ++seq_;
    load.max_concurrency = peer_->max_concurrency;
    call.trace->load = load;
  }

  SubWorkflowResponse Answer(const SubWorkflowRequest& request, const CallOptions& call) {
    ++peer_->invokes;
    switch (peer_->mode.load()) {
      case FakeMode::kFailBeforeSending:
        Trace(call, true);
        if (call.trace != nullptr) call.trace->load.reset();
        throw TransportError(StatusCode::kUnavailable, "failed to connect: Connection refused");
      case FakeMode::kFailAfterSending:
        Trace(call, false);
        if (call.trace != nullptr) call.trace->load.reset();
        throw TransportError(StatusCode::kUnavailable, "Socket closed");
      case FakeMode::kOverload:
        Trace(call, false);
        throw ResourceExhaustedError(StatusCode::kResourceExhausted, "run queue is full");
      case FakeMode::kDraining:
        Trace(call, false);
        throw TransportError(StatusCode::kUnavailable, "peer is shutting down");
      case FakeMode::kBlock: {
        std::unique_lock<std::mutex> lock(peer_->mu);
        peer_->cv.wait(lock, [&] { return peer_->released; });
        break;
      }
      case FakeMode::kOk:
        break;
    }
    Trace(call, false);
    SubWorkflowResponse response;
    response.result_json = "\"" + peer_->node_id + "\"";
    if (request.workflow_name == "make_ref") {
      Uuid ref = Uuid::NewV4();
      response.remote_refs[ref] = RemoteRefDescriptor{peer_->node_id, "bytes", 1};
    }
    return response;
  }

  SubWorkflowResponse DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                          const CallOptions& call) override {
    return Answer(request, call);
  }
  SubWorkflowResponse DoStreamSubWorkflowEvents(
      const SubWorkflowRequest& request,
      const std::function<void(const SubWorkflowEvent&)>& on_event,
      const CallOptions& call) override {
    SubWorkflowResponse response = Answer(request, call);
    SubWorkflowEvent event;
    event.response = response;
    if (on_event) on_event(event);
    return response;
  }
  ByteVector DoDerefSessionRef(const Uuid& ref, const CallOptions&) override {
    ++peer_->derefs;
    if (!peer_->reachable) throw TransportError(StatusCode::kUnavailable, "Socket closed");
    const std::string text = peer_->node_id + ":" + ref.ToString();
    return ByteVector(text.begin(), text.end());
  }
  DerefResult DoDerefTo(const Uuid& ref, DerefSink& sink,
                        const std::function<void(const DerefProgress&)>&,
                        const CallOptions& call) override {
    const ByteVector bytes = DoDerefSessionRef(ref, call);
    ThrowIfError(sink.Begin(bytes.size(), "bytes"));
    ThrowIfError(sink.Write(0, bytes));
    ThrowIfError(sink.Finish());
    return DerefResult{bytes.size(), "bytes", 1, 0};
  }
  bool DoReleaseSessionRef(const Uuid&, const CallOptions&) override { return true; }
  std::uint64_t DoReleaseScope(const std::string&, const CallOptions&) override { return 1; }
  PeerDescription DoDescribePeer(const CallOptions&) override {
    if (!peer_->reachable) throw TransportError(StatusCode::kUnavailable, "Connection refused");
    PeerDescription d;
    d.node_id = peer_->node_id;
    d.step_ids = peer_->step_ids;
    d.labels = peer_->labels;
    d.capacity_weight = peer_->capacity_weight;
    d.load.max_concurrency = peer_->max_concurrency;
    return d;
  }
  void DoWatchHealth(const std::function<void(bool)>& on_change, std::chrono::milliseconds,
                     const CallOptions& call) override {
    std::unique_lock<std::mutex> lock(peer_->mu);
    const int generation = peer_->watch_generation;
    std::optional<bool> last;
    while (peer_->watch_generation == generation &&
           !(call.cancel != nullptr && call.cancel->cancelled())) {
      if (last != peer_->serving) {
        last = peer_->serving;
        const bool value = *last;
        lock.unlock();
        on_change(value);
        lock.lock();
        continue;
      }
      peer_->cv.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

  std::string url_;
  std::string node_id_;
  std::shared_ptr<FakePeer> peer_;
  std::atomic<std::uint64_t> seq_{0};
};

}  // namespace

FakeFleet::FakeFleet() {
  RegisterPeerTransport(
      "fake",
      [this](const std::string& url, std::string node_id,
             const ConnectOptions&) -> std::unique_ptr<PeerClient> {
        const std::string name = url.substr(std::string("fake://").size());
        std::shared_ptr<FakePeer> peer = Find(name);
        if (peer == nullptr || !peer->reachable) {
          throw TransportError(StatusCode::kUnavailable, "cannot connect to " + url);
        }
        ++peer->connects;
        return std::make_unique<FakeClient>(url, std::move(node_id), std::move(peer));
      });
}

FakeFleet& FakeFleet::Get() {
  static FakeFleet* fleet = new FakeFleet();  // lives as long as the registry that refers to it
  return *fleet;
}

std::shared_ptr<FakePeer> FakeFleet::Add(const std::string& name) {
  auto peer = std::make_shared<FakePeer>();
  peer->node_id = name;
  std::lock_guard<std::mutex> lock(mu_);
  peers_[name] = peer;
  return peer;
}

std::shared_ptr<FakePeer> FakeFleet::Find(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  return it == peers_.end() ? nullptr : it->second;
}

}  // namespace blazen::client::pool::testing
