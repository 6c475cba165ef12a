#pragma once

namespace strata::nodes::internal {

/// Tells the CPU that this is a busy-wait loop: on x86 `pause` saves power and lets the
/// sibling hyperthread run, and avoids the memory-order mis-speculation penalty when the
/// polled line changes.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

} // namespace strata::nodes::internal
