import Foundation
import TensorCore

/// ImageNet channel statistics the backbone was trained with (torchvision's values).
public let imageNetMean: [Float] = [0.485, 0.456, 0.406]
public let imageNetStandardDeviation: [Float] = [0.229, 0.224, 0.225]

/// The network input for a picture: resized to `size` x `size` as torchvision's
/// `Resize((size, size))` does on a PIL image (no resize when it already has that size),
/// then `ToTensor()` and `Normalize(mean, std)`: [1, 3, size, size] float32 with
/// `(x / 255 - mean[c]) / std[c]`, each operation rounded to float32 in that order, so the
/// values are bit-identical to torchvision's. `size` must be positive (callers check
/// user-given sizes).
public func imageTensor(_ image: RGBImage, size: Int) -> Tensor {
    precondition(size > 0, "network input size must be positive, got \(size)")
    let resized = resizeBilinearAntialiased(image, width: size, height: size)
    let plane = size * size
    return Tensor(shape: [1, 3, size, size]) { out in
        resized.pixels.withUnsafeBufferPointer { source in
            for c in 0..<3 {
                let mean = imageNetMean[c], deviation = imageNetStandardDeviation[c]
                let channel = out.baseAddress! + c * plane
                for i in 0..<plane {
                    let x = Float(source[3 * i + c]) / 255
                    channel[i] = (x - mean) / deviation
                }
            }
        }
    }
}

/// The network's mask for a gray mask as loaded (PIL's L values 0...255): resized to
/// `size` x `size` with torch's nearest rule, then 1 where the value is at least 128 and
/// 0 elsewhere, as [1, size, size] float32.
public func maskTensor(_ mask: GrayImage, size: Int) -> Tensor {
    precondition(size > 0, "network input size must be positive, got \(size)")
    let resized = resizeNearestTorch(mask, width: size, height: size)
    return Tensor(shape: [1, size, size]) { out in
        resized.pixels.withUnsafeBufferPointer { source in
            for i in 0..<source.count { out[i] = source[i] >= 128 ? 1 : 0 }
        }
    }
}
