// The scheduler runs one graph across several devices: it assigns every node to a device (where its
// weights or cache live, else where its neighbours run, else the CPU), cuts the node list into
// splits of consecutive nodes on one device, adds copies for tensors a split reads from another
// device, places every intermediate tensor in a per-device compute buffer (memory reused as soon as
// a tensor is dead), and executes the splits in order on each device's stream.
//
// Usage per forward pass: build the graph, plan(g), fill the inputs with set_input, compute(),
// read the outputs with get. Buffers only grow: reserve() with the largest graph up front and the
// decode loop never allocates device memory.
#pragma once
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "core/graph.h"

namespace hearth {

class scheduler {
 public:
  // devices in priority order; the CPU must be among them (it runs what nothing else supports).
  explicit scheduler(std::vector<device*> devices);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Plans g: device assignment, splits, copies, buffer placement. Grows buffers when needed.
  void plan(graph& g);
  // Plans g and keeps the buffers at least that large (call with the worst-case graph).
  void reserve(graph& g) { plan(g); }
  // Dry run: the compute-buffer bytes each device would need for g, allocating nothing (the
  // planner's estimate; weights and caches may sit on placeholder buffers).
  std::vector<std::pair<device*, size_t>> measure(graph& g);
  // Host data into an input tensor of the planned graph (tf_input leaves).
  void set_input(tensor* t, const void* data, size_t n_bytes);
  // Runs the planned graph; returns when every device has finished.
  void compute();
  // Reads bytes of a tensor of the planned graph (outputs) or of a weight.
  void get(const tensor* t, void* dst, size_t offset, size_t n_bytes);

  struct split_info {
    device* dev;
    int n_nodes;
    int n_copies;
  };
  std::vector<split_info> splits() const;
  // Bytes of compute buffer held per device.
  std::vector<std::pair<device*, size_t>> buffer_sizes() const;
  device* device_of(const tensor* t) const;
  const std::vector<device*>& devices() const { return devices_; }
  // Debug: called after each split with its nodes (to dump intermediate tensors).
  using node_callback = void (*)(void* user, const std::vector<tensor*>& nodes, scheduler& s);
  void set_node_callback(node_callback cb, void* user) { callback_ = cb; callback_user_ = user; }

 private:
  struct copy_op { tensor* src; tensor* dst; };
  struct split {
    int dev;
    std::vector<tensor*> nodes;
    std::vector<copy_op> copies;
    uint64_t id = 0;  // unique across plans and schedulers (stream::set_plan_id)
  };
  struct per_device {
    device* dev = nullptr;
    std::unique_ptr<stream> strm;
    std::unique_ptr<buffer> buf;  // compute buffer
  };

  int assign(graph& g);
  int dev_index(const device* d) const;
  int home_of(const tensor* t) const;  // device index where t's bytes live (-1 if unplaced)
  bool readable(int dev, const tensor* t) const;
  void allocate(graph& g);

  std::vector<device*> devices_;
  std::vector<per_device> per_dev_;
  int cpu_ = -1;
  std::vector<split> splits_;
  std::unordered_map<const tensor*, int> assigned_;  // node/input -> device index
  std::deque<tensor> copies_pool_;                   // copy tensors of the current plan
  graph* planned_ = nullptr;
  std::vector<uint8_t> staging_;
  bool dry_run_ = false;
  std::vector<size_t> measured_;
  node_callback callback_ = nullptr;
  void* callback_user_ = nullptr;
};

}  // namespace hearth
