//! `switchboard-componentize CORE.wasm OUT.wasm`: encodes the guest's core
//! module (built for `wasm32-unknown-unknown`, with the WIT world embedded by
//! wit-bindgen) as a component. Nothing from WASI is linked in, so the
//! component imports nothing.

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: switchboard-componentize CORE.wasm OUT.wasm");
    };
    let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .context("reading the core module's component type")?
        .validate(true)
        .encode()
        .context("encoding the component")?;
    std::fs::write(output, &component).with_context(|| format!("writing {output}"))?;
    println!("{output}: {} bytes", component.len());
    Ok(())
}
