#pragma once

namespace ddbfs {

// Keeps freed large buffers in the process's heap, for the next request to
// reuse, instead of handing each back to the kernel when it is freed.
//
// Every piece a chunk server receives or reads, and every piece a client
// writes or reads, is a buffer of up to kMaxIoSize (4 MiB). With glibc's
// defaults such a buffer may be mapped afresh for each request and unmapped
// at its free, so the kernel zeroes and faults in every page of every piece
// again (up to 1,024 page faults per 4 MiB); on a virtual machine whose
// page faults are expensive that cost a fifth of the sequential write's
// speed (bench/README.md, "Page faults per piece"). Buffers up to 32 MiB now come from the heap,
// and the heap is trimmed only past 256 MiB free at its top, so a process holds at most about its
// busiest moment's buffers.
//
// Call once at the start of main, before any thread starts. Returns false
// if the C library refused a setting (the process works, only slower).
bool KeepLargeBuffersInHeap();

}  // namespace ddbfs
