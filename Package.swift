// swift-tools-version:6.0
import PackageDescription

// Kernels are written for speed in release builds; on x86-64 we let the compiler use
// AVX2 and FMA (every laptop CPU since 2013 has them).
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-target-cpu", "haswell"])]
#else
let kernelFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "cdfss",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "cdfss", targets: ["cdfss"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "FreqMask", targets: ["FreqMask"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "HSNetCore", targets: ["HSNetCore"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Finetune", targets: ["Finetune"]),
        .library(name: "Report", targets: ["Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims: module maps only.
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Tensors, numerical kernels (forward and backward), tensor file formats, checkpoints.
        .target(
            name: "TensorCore",
            dependencies: ["CBLAS", "CZlib"],
            swiftSettings: kernelFlags),
        // Decoding, resizing and writing images and masks; pictures and labelled figures.
        .target(name: "Imaging", dependencies: ["TensorCore", "CPNG", "CTIFF", "CJPEG"], swiftSettings: kernelFlags),
        // Frequency-domain plug-ins: FFT plans, APM, ACPA. Knows nothing of HSNet.
        .target(name: "FreqMask", dependencies: ["TensorCore", "CFFTW"], swiftSettings: kernelFlags),
        // The HSNet model with named plug-in slots.
        .target(name: "HSNetCore", dependencies: ["TensorCore", "FreqMask", "Imaging"],
                resources: [.copy("Resources/demo-learner.safetensors")], swiftSettings: kernelFlags),
        // Benchmark layouts, dataset checks, synthetic target styles.
        .target(
            name: "Datasets", dependencies: ["TensorCore", "Imaging"],
            resources: [.copy("Resources/fss1000-test-classes.txt"), .copy("Resources/fss1000-val-classes.txt"),
                        .copy("Resources/pascal")], swiftSettings: kernelFlags),
        // Episodes, scores, reports, shards, and the diagnostics that evaluate a model
        // (channel correlation, filter sweeps, feature export).
        .target(name: "Evaluation", dependencies: ["TensorCore", "FreqMask", "Imaging", "HSNetCore", "Datasets"],
                swiftSettings: kernelFlags),
        // Optimisers, caches, masker fine-tuning, test-time adaptation, learner training.
        .target(name: "Finetune", dependencies: ["TensorCore", "FreqMask", "Imaging", "HSNetCore", "Datasets", "Evaluation"],
                swiftSettings: kernelFlags),
        // Pictures of maskers, episodes and diagnostics; the HTML report.
        .target(name: "Report", dependencies: ["TensorCore", "FreqMask", "Imaging", "HSNetCore", "Datasets", "Evaluation"],
                swiftSettings: kernelFlags),
        .executableTarget(
            name: "cdfss",
            dependencies: [
                "TensorCore", "FreqMask", "Imaging", "HSNetCore", "Datasets", "Evaluation", "Finetune", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // An example of a model of one's own holding maskers through FeaturePlugin.
        .target(name: "SmallSegmenter", dependencies: ["TensorCore", "FreqMask"], path: "Examples/SmallSegmenter"),
        .testTarget(name: "ExamplesTests", dependencies: ["SmallSegmenter", "FreqMask", "TensorCore"]),

        // Test support: fixtures with float64 references and the parity bounds they set, and
        // the assertion that an error is one line naming what is wrong.
        .target(name: "ReferenceParity", dependencies: ["TensorCore"], path: "Tests/ReferenceParity"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "ReferenceParity"], path: "Tests/TensorCoreTests"),
        .testTarget(name: "FreqMaskTests", dependencies: ["FreqMask", "TensorCore", "ReferenceParity"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TensorCore"]),
        .testTarget(name: "HSNetCoreTests", dependencies: ["HSNetCore", "FreqMask", "Imaging", "TensorCore", "ReferenceParity"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Imaging", "TensorCore", "ReferenceParity"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Datasets", "HSNetCore", "FreqMask", "TensorCore", "ReferenceParity"]),
        .testTarget(name: "FinetuneTests", dependencies: ["Finetune", "Datasets", "Evaluation", "Report", "HSNetCore", "FreqMask", "Imaging", "TensorCore", "ReferenceParity"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Evaluation", "Datasets", "FreqMask", "Imaging", "TensorCore"]),
        .testTarget(name: "cdfssTests", dependencies: ["TensorCore", "FreqMask", "Imaging", "HSNetCore", "Datasets", "Evaluation", "Finetune", "Report"]),
    ],
    // Kernels hand unsafe buffers to worker threads; Swift 5 mode keeps that free of
    // Sendable ceremony, and the kernels themselves guarantee disjoint writes.
    swiftLanguageModes: [.v5]
)
