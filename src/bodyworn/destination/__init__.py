"""The embedded content destination: a Swift-subset server (`swift.SwiftApp`) over a disk store."""
