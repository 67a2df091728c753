/// Process-wide allocator settings for long numerical runs.
public enum MemoryTuning {
    /// glibc returns large blocks to the system on free and page-faults them back in on the
    /// next allocation; a training step allocates and frees tens of megabytes each time.
    /// Keeping blocks up to 512 MiB in the heap removes those faults.
    public static func keepLargeBlocksInHeap() {
        #if os(Linux)
        // <malloc.h> is not part of the Glibc module: M_TRIM_THRESHOLD is -1, M_MMAP_THRESHOLD -3.
        _ = glibcMallopt(-3, 512 << 20)
        _ = glibcMallopt(-1, 1 << 30)
        #endif
    }
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
