//! Compiles `proto/ingest.proto` with protox (pure Rust: no `protoc` to install) into the
//! tonic client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/ingest.proto");
    let descriptors = protox::compile(["proto/ingest.proto"], ["proto"])?;
    tonic_build::configure()
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
