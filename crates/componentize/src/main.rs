//! Build tool for the processor component.
//!
//! - `switchboard-componentize CORE.wasm OUT.wasm`: encodes the guest's core
//!   module (built for `wasm32-unknown-unknown`, with the WIT world embedded
//!   by wit-bindgen) as a component and prints its size and imports. Nothing
//!   from WASI is linked in, so the component imports nothing.
//! - `switchboard-componentize --imports COMPONENT.wasm`: lists what any
//!   component imports (used to compare with a `wasm32-wasip2` build).

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, component] if flag == "--imports" => {
            let bytes = std::fs::read(component).with_context(|| format!("reading {component}"))?;
            report(component, &bytes)
        }
        [input, output] => {
            let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
            let component = wit_component::ComponentEncoder::default()
                .module(&module)
                .context("reading the core module's component type")?
                .validate(true)
                .encode()
                .context("encoding the component")?;
            // Left untouched when it is the same, so that what is made from
            // it (the Node bindings) is not made again.
            if std::fs::read(output).ok().as_deref() != Some(component.as_slice()) {
                std::fs::write(output, &component).with_context(|| format!("writing {output}"))?;
            }
            report(output, &component)
        }
        _ => bail!("usage: switchboard-componentize CORE.wasm OUT.wasm | --imports COMPONENT.wasm"),
    }
}

/// Prints the component's size and every interface it imports.
fn report(name: &str, component: &[u8]) -> anyhow::Result<()> {
    let wit_component::DecodedWasm::Component(resolve, world) =
        wit_component::decode(component).context("decoding the component")?
    else {
        bail!("{name} is a WIT package, not a component");
    };
    let world = &resolve.worlds[world];
    let imports: Vec<String> = world
        .imports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();
    println!(
        "{name}: {} bytes, {} imports",
        component.len(),
        imports.len()
    );
    for import in imports {
        println!("  import {import}");
    }
    Ok(())
}
