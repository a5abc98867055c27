// swift-tools-version: 6.1
import PackageDescription

// The conv core is compiled for the CPU it runs on: without a target CPU, SIMD fused multiply-adds
// become libm calls (about 100x slower). A binary built here needs AVX-512 where it runs.
let nativeCPU: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "ConvCore", swiftSettings: nativeCPU),
        // libvips through pkg-config, with fixed-arity wrappers for its variadic calls.
        .systemLibrary(name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),
        .target(name: "Imaging", dependencies: ["CVips", "ConvCore"], swiftSettings: nativeCPU),
        .target(name: "Styles", dependencies: ["ConvCore", "Imaging"], swiftSettings: nativeCPU),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "ConvCore",
                "Imaging",
                "Styles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeCPU
        ),
        .testTarget(
            name: "ConvCoreTests",
            dependencies: ["ConvCore"],
            exclude: ["Fixtures"],
            swiftSettings: nativeCPU
        ),
        .testTarget(
            name: "ImagingTests",
            dependencies: ["Imaging", "Styles", "CVips"],
            exclude: ["Fixtures/make_palette_png.py"],
            resources: [.copy("Fixtures/palette.png")],
            swiftSettings: nativeCPU
        ),
        // Runs the built `tessera` binary; the dependency makes `swift test` build it.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["tessera", "Imaging"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
