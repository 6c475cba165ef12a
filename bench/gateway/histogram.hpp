#pragma once

// A latency histogram for chat_loadgen: log-linear buckets (64 per power of two, so a
// percentile is off by at most 1/64 of its value, ~1.6%) over nanoseconds, a fixed 30 KiB,
// cheap to record into and to merge. Owner thread only; merge copies after the threads stop.

#include <array>
#include <cstdint>

namespace strata::bench {

class latency_histogram {
public:
  void record(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
  }

  void merge(const latency_histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
  }

  uint64_t count() const {
    return total_;
  }

  /// The value at quantile `q` (0 < q <= 1): the middle of the bucket holding the sample of
  /// rank ceil(q * count); 0 without samples.
  uint64_t quantile(double q) const {
    if (total_ == 0)
      return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (static_cast<double>(rank) < q * static_cast<double>(total_))
      ++rank;
    rank = rank == 0 ? 1 : rank;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return lower(i) + width(i) / 2;
    }
    return lower(counts_.size() - 1);
  }

  /// The largest sample's bucket (its lower bound); 0 without samples.
  uint64_t max() const {
    for (size_t i = counts_.size(); i-- > 0;)
      if (counts_[i] != 0)
        return lower(i);
    return 0;
  }

private:
  static constexpr unsigned sub_bits = 6;
  static constexpr uint64_t sub = uint64_t{1} << sub_bits; // buckets per power of two

  // Values below 2 * sub have a bucket each; above, a power of two 2^m is split in `sub`.
  static size_t index(uint64_t v) {
    if (v < 2 * sub)
      return static_cast<size_t>(v);
    unsigned msb = 63 - static_cast<unsigned>(__builtin_clzll(v));
    unsigned shift = msb - sub_bits;
    return static_cast<size_t>((shift + 1) * sub + ((v >> shift) - sub));
  }

  static uint64_t lower(size_t i) {
    if (i < 2 * sub)
      return i;
    auto shift = static_cast<unsigned>(i / sub - 1);
    return (i % sub + sub) << shift;
  }

  static uint64_t width(size_t i) {
    return i < 2 * sub ? 1 : uint64_t{1} << (i / sub - 1);
  }

  std::array<uint64_t, (64 - sub_bits + 1) * sub> counts_{};
  uint64_t total_ = 0;
};

} // namespace strata::bench
