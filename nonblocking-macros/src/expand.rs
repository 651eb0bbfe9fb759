//! Code generation: the user's function, its typed stub, and its registry entry.
//!
//! ```text
//! // Input:
//! #[server_function]
//! pub async fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! // Output (paths shortened; `rt` is `::nonblocking_runtime::__private`):
//! pub async fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! pub fn call_async_add(a: i64, b: i64) -> rt::AsyncCall<i64> {
//!     rt::call_async(async move { add(a, b).await })
//! }
//!
//! pub const ADD_SERVER_FUNCTION: rt::ServerFunction = rt::ServerFunction::from_parts(
//!     rt::ServerFunctionParts { name: "add", params: &[..], handler: { fn handler(..) {..} handler }, .. },
//! );
//! const __ADD_SERVER_FUNCTION_SUBMIT: () = { rt::inventory::submit! { ADD_SERVER_FUNCTION } };
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, Path};

use crate::attr::{Args, Errors};
use crate::model::{
    FromContext, Param, Returns, ServerFn, display_type, return_span, strip_context_attrs,
};

/// The whole attribute: parse, check, generate. On any error the user's function is still
/// emitted unchanged, next to the errors, so the rest of their crate keeps compiling.
pub(crate) fn server_function(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    error.span(),
                    "#[server_function] applies to functions: `fn` or `async fn`",
                )
                .to_compile_error(),
            );
            return out;
        }
    };
    let mut errors = Errors::default();
    let args = Args::parse(args).unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    let krate = args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::nonblocking_runtime));
    match ServerFn::read(function.clone(), &args) {
        Ok(model) if errors.is_empty() => generate(&model, &krate),
        Ok(_) => with_errors(&function, errors),
        Err(error) => {
            errors.push(error);
            with_errors(&function, errors)
        }
    }
}

fn with_errors(function: &ItemFn, errors: Errors) -> TokenStream {
    let mut function = function.clone();
    strip_context_attrs(&mut function);
    let mut out = function.to_token_stream();
    if let Err(error) = errors.finish() {
        out.extend(error.to_compile_error());
    }
    out
}

fn generate(model: &ServerFn, krate: &Path) -> TokenStream {
    let rt = quote!(#krate::__private);
    let item = &model.item;
    let vis = &item.vis;
    let ident = &item.sig.ident;
    let plain = ident.to_string().trim_start_matches("r#").to_owned();
    let stub = format_ident!("call_async_{}", plain);
    let entry = format_ident!("{}_SERVER_FUNCTION", plain.to_uppercase());
    let remote = format_ident!("call_remote_{}", plain);
    // Only `cfg`s carry over: the stub and entry exist exactly when the function does.
    let cfgs: Vec<&Attribute> = item
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();

    // Every parameter, in order, for the call itself; the wire ones for what callers send.
    // A parameter named like its function (`fn tag(tag: u8)`) would shadow it in the stubs and
    // the handler, which call it: the generated code binds that one under another name.
    let bound = |param: &Param| binding(param, model);
    let names: Vec<Ident> = model.params.iter().map(bound).collect();
    let wire_names: Vec<Ident> = model.wire_params().map(bound).collect();
    let types: Vec<_> = model.wire_params().map(|param| &param.ty).collect();
    let return_span = return_span(item);
    // The call, spanned at the function's name: a non-`Send` future is reported there.
    let direct = respan(quote!(#ident(#(#names),*)), ident.span());
    let mut call = direct.clone();
    if model.is_async {
        call = quote!(#call.await);
    }
    if let Returns::Fallible { ok: None, .. } = &model.returns {
        // An alias of `Result` goes through the `Fallible` trait, so a `fallible` function that
        // returns no `Result` is one clear error (at the return type) instead of a cascade of
        // type mismatches.
        call = respan(quote!(#rt::Fallible::into_result(#call)), return_span);
    }
    let fallible = matches!(model.returns, Returns::Fallible { .. });
    if fallible {
        // The one place the error type is checked: at the return type, once (the stub and the
        // handler produce the same diagnostic, which rustc reports once).
        call = respan(quote!(#rt::failing(#call)), return_span);
    }
    // What the stub and the handler run: a future for an async function, else a closure
    // (`move || f()` would trip clippy's `redundant_closure` in the user's crate).
    let work = if model.is_async && !fallible {
        // The function's own future, as it is: the hot path of a typed call.
        direct
    } else if model.is_async {
        quote!(async move { #call })
    } else if names.is_empty() && !fallible {
        quote!(#ident)
    } else {
        quote!(move || #call)
    };

    let value = match &model.returns {
        Returns::Unit => quote!(()),
        Returns::Value(ty) => ty.to_token_stream(),
        Returns::Fallible { ok: Some(ok), .. } => ok.to_token_stream(),
        Returns::Fallible { ty, ok: None } => respan(quote!(<#ty as #rt::Fallible>::Ok), ty.span()),
    };
    let encode = respan(quote!(<#value as #rt::ReturnValue>::encode), return_span);
    let decode_value = respan(quote!(<#value as #rt::ReturnValue>::decode), return_span);
    // Whether it streams its items: known from the type, at the return type (one diagnostic).
    let streams = respan(quote!(<#value as #rt::ReturnValue>::STREAMS), return_span);
    // Which runtime function starts the stub's call, and which `Arguments` method runs the
    // handler's. Only these paths carry the function's span (a non-`Send` future is reported at
    // the function's name); the arguments keep theirs (a bad error type at the return type).
    let (start, run, start_work) = match (model.is_async, model.inline, fallible) {
        (true, _, false) => (quote!(#rt::call_async), quote!(run_async), work.clone()),
        (true, _, true) => (
            quote!(#rt::try_call_async),
            quote!(run_try_async),
            work.clone(),
        ),
        (false, true, false) => (
            quote!(#rt::call_async),
            quote!(run_inline),
            quote!(async move { #call }),
        ),
        (false, true, true) => (
            quote!(#rt::try_call_async),
            quote!(run_try_inline),
            quote!(async move { #call }),
        ),
        (false, false, false) => (
            quote!(#rt::call_blocking),
            quote!(run_blocking),
            work.clone(),
        ),
        (false, false, true) => (
            quote!(#rt::try_call_blocking),
            quote!(run_try_blocking),
            work.clone(),
        ),
    };
    let start = respan(start, ident.span());
    let run = respan(run, ident.span());
    // The stub reads its `#[context]` parameters from the current context (the call it starts
    // then runs in that context too, as every call does).
    let context = Ident::new("context", Span::mixed_site());
    let reads_context = model.context_params().next().is_some();
    let start = quote!(#start(#start_work));
    let run = quote!(#run(#work, #encode));

    // A fallible function's error crosses HTTP as its JSON value too, when its type is
    // `Serialize`: picked at compile time by autoref specialization, since the macro cannot see
    // the type's traits.
    let error_value = match &model.returns {
        Returns::Fallible { ty, .. } => {
            // At the return type: a `fallible` non-`Result` is the one error reported there.
            let error_type = respan(quote!(<#ty as #rt::Fallible>::Error), ty.span());
            quote! {{
                fn error_value(error: &(dyn ::std::error::Error + 'static)) -> ::core::option::Option<#rt::Value> {
                    use #rt::{EncodeError as _, EncodeText as _, NoErrorValue as _};
                    (&&&#rt::ErrorValue::<#error_type>::NEW).encode(error)
                }
                error_value
            }}
        }
        _ => quote!(#rt::no_error_value),
    };
    // The types' JSON Schemas, for OpenAPI and TypeScript (runtime feature `schema`; without
    // it the runtime's macro expands to `()`). A fallible function's error has one only when
    // its value crosses the wire (`Serialize`), which the runtime's macro picks at compile time
    // from the whole return type (an alias of `Result` included).
    let result_type = match &model.returns {
        Returns::Fallible { ty, .. } => Some(ty),
        _ => None,
    };
    let returns_schema = match &model.returns {
        Returns::Fallible { ty, ok: None } => quote!(ok_of: #ty),
        _ => quote!(returns: #value),
    };
    let progress_type = model.progress_type();
    let schema = quote! {
        #rt::signature! { params: [#(#types),*], #returns_schema, error: [#result_type], progress: [#progress_type] }
    };
    let doc = doc_text(&item.attrs);
    let stub_doc = format!(
        " Calls [`{plain}`] without waiting and returns the handle to its outcome; generated by `#[server_function]`."
    );
    let remote_doc = format!(
        " Calls [`{plain}`] on the server behind `remote` (HTTP or NATS) without waiting (runtime feature `http` or `nats`); generated by `#[server_function]`."
    );
    let entry_doc = format!(
        " The registry entry of [`{plain}`], registered as `{}`; for `register()` and tooling.",
        model.name
    );

    let name = &model.name;
    let returns = match &item.sig.output {
        syn::ReturnType::Default => "()".to_owned(),
        syn::ReturnType::Type(_, ty) => display_type(ty),
    };
    let param_names = wire_names
        .iter()
        .map(|name| name.to_string().trim_start_matches("r#").to_owned());
    let param_types = types.iter().map(|ty| display_type(ty));
    let is_async = model.is_async;
    let reports_progress = model.reports_progress();
    // Which of its body and value are raw bytes, known from the types (`Vec<u8>` needs no
    // marker): only a function with one parameter can take its bytes as the whole body.
    let takes_bytes = match types.as_slice() {
        [only] => quote!(#rt::is_bytes::<#only>()),
        _ => quote!(false),
    };
    let binary = quote! {{
        fn binary() -> #rt::Binary {
            #rt::Binary {
                takes: #takes_bytes,
                returns: #rt::is_bytes::<#value>(),
                chunks: #rt::is_bytes_stream::<#value>(),
            }
        }
        binary
    }};
    // Whether its remote call reads frames: progress (the macro knows), or items (the type says).
    let reads_frames = if reports_progress {
        quote!(true)
    } else {
        streams.clone()
    };
    let require = match &model.require {
        Some(require) => quote!(::core::option::Option::Some(#require)),
        None => quote!(::core::option::Option::None),
    };
    // Hygienic: a user parameter called `args` cannot collide with it.
    let args = Ident::new("args", Span::mixed_site());
    let args_binding = if wire_names.is_empty() {
        quote!(#args)
    } else {
        quote!(mut #args)
    };
    // Spanned at each type: a type that is not serde-able is one error, at that parameter
    // (the handler's decode and the remote stub's encode give the same diagnostic).
    let decode = model.wire_params().map(|param| {
        let (name, ty) = (bound(param), &param.ty);
        let decode = respan(quote!(<#ty as #rt::Argument>::decode), ty.span());
        quote!(let #name: #ty = #args.next(#decode)?;)
    });
    // `#[context]` parameters, read from the call's context (the handler's `args`, the stub's
    // current one), spanned at each type: a type that cannot be one is reported there.
    // Each one's expression: the value (a `T`) or its `Result` (a required `T`).
    let from_context = |context: &TokenStream| -> Vec<(Ident, &syn::Type, TokenStream, bool)> {
        model
            .context_params()
            .map(|param| {
                let (ident, ty) = (bound(param), &param.ty);
                let parameter = param.ident.to_string().trim_start_matches("r#").to_owned();
                match &param.context {
                    Some(FromContext::Optional(inner)) => {
                        let read = respan(quote!(#rt::context_optional::<#inner>), inner.span());
                        (ident, ty, quote!(#read(#context)), false)
                    }
                    Some(FromContext::Progress(reported)) => {
                        let read =
                            respan(quote!(#rt::context_progress::<#reported>), reported.span());
                        (ident, ty, quote!(#read(#context)), false)
                    }
                    _ => {
                        let read = respan(quote!(#rt::context_value::<#ty>), ty.span());
                        (ident, ty, quote!(#read(#context, #name, #parameter)), true)
                    }
                }
            })
            .collect()
    };
    let handler_context =
        from_context(&quote!(#args.context()))
            .into_iter()
            .map(|(ident, ty, read, required)| {
                if required {
                    quote!(let #ident: #ty = #read?;)
                } else {
                    quote!(let #ident: #ty = #read;)
                }
            });
    let stub_context: Vec<TokenStream> = from_context(&quote!(&#context))
        .into_iter()
        .map(|(ident, ty, read, required)| {
            if required {
                quote! {
                    let #ident: #ty = match #read {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(error) => return #rt::failed_call(error),
                    };
                }
            } else {
                quote!(let #ident: #ty = #read;)
            }
        })
        .collect();
    let encode_args = model.wire_params().map(|param| {
        let (name, ty) = (bound(param), &param.ty);
        let encode = respan(quote!(<#ty as #rt::Argument>::encode), ty.span());
        quote!(#encode(&#name))
    });
    // A function that reports progress starts inside a context carrying the reporter, and
    // its call gets the cell the caller's `on_progress` reads.
    let (stub_prelude, start) = if model.reports_progress() {
        let body = quote! {
            #rt::with_progress(#rt::Context::current(), |#context| {
                #(#stub_context)*
                #start
            })
        };
        (quote!(), body)
    } else if reads_context {
        let prelude = quote! {
            let #context = #rt::Context::current();
            #(#stub_context)*
        };
        (prelude, start)
    } else {
        (quote!(), start)
    };
    // The remote stub's first parameter: `remote`, unless a parameter of the function is named
    // so (the stub's parameters are all in one list, so hygiene cannot keep them apart).
    let transport = ["remote", "transport", "remote_"]
        .into_iter()
        .find(|candidate| model.wire_params().all(|param| param.ident != candidate))
        .map_or_else(
            || Ident::new("__remote", Span::mixed_site()),
            |name| Ident::new(name, Span::mixed_site()),
        );
    let register = format_ident!("__{}_SERVER_FUNCTION_SUBMIT", plain.to_uppercase());

    // Every item is one that may also stand in an `impl` block (a fn, a named const, a macro
    // call): on an associated function the macro cannot detect, the errors are then only about
    // names, never rustc's confusing "`const` items in this context need a name".
    quote! {
        #item

        #(#cfgs)*
        #[doc = #stub_doc]
        #vis fn #stub(#(#wire_names: #types),*) -> #rt::AsyncCall<#value> {
            #stub_prelude
            #start
        }

        #(#cfgs)*
        #[doc = #entry_doc]
        #vis const #entry: #rt::ServerFunction = #rt::ServerFunction::from_parts(#rt::ServerFunctionParts {
            name: #name,
            rust_path: ::core::concat!(::core::module_path!(), "::", #plain),
            file: ::core::file!(),
            line: ::core::line!(),
            params: &[#(#rt::Param { name: #param_names, ty: #param_types }),*],
            returns: #returns,
            is_async: #is_async,
            require: #require,
            reports_progress: #reports_progress,
            streams: #streams,
            binary: #binary,
            handler: {
                fn handler(#args_binding: #rt::Arguments) -> #rt::Result<#rt::Invocation, #rt::CallError> {
                    #(#decode)*
                    #(#handler_context)*
                    #rt::Result::Ok(#args.#run)
                }
                handler
            },
            error_value: #error_value,
            doc: #doc,
            signature: #schema,
        });

        #(#cfgs)*
        #rt::if_remote! {
            #[doc = #remote_doc]
            #vis fn #remote(#transport: &impl #rt::Transport, #(#wire_names: #types),*) -> #rt::AsyncCall<#value> {
                #rt::call_remote(#transport, #name, #reads_frames, [#(#encode_args),*], #decode_value)
            }
        }

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(dead_code)]
        const #register: () = {
            #rt::inventory::submit! { #entry }
        };
    }
}

/// The function's doc comment as its reader sees it: one line per `///` line, each without the
/// one space after the slashes, outer blank lines dropped.
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }),
                ..
            }) => Some(text.value()),
            _ => None,
        })
        .flat_map(|text| text.split('\n').map(str::to_owned).collect::<Vec<_>>())
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    lines.join("\n").trim_matches('\n').to_owned()
}

/// The name the generated code binds `param` under: its own, unless it is the function's name,
/// which it would shadow (then the name with `_`s added, until no parameter has it).
fn binding(param: &Param, model: &ServerFn) -> Ident {
    let function = &model.item.sig.ident;
    if param.ident != *function {
        return param.ident.clone();
    }
    let mut name = format!("{}_", param.ident.to_string().trim_start_matches("r#"));
    while model.params.iter().any(|other| other.ident == name) {
        name.push('_');
    }
    Ident::new(&name, param.ident.span())
}

/// Gives every token of `tokens` the span `span`, keeping the tokens themselves.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = inner.into();
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// The expansion of a sync, an async and a fallible function, formatted and compared with the
/// committed files in `snapshots/`, so every change to the generated code is reviewed.
/// Re-record with `UPDATE_SNAPSHOTS=1 cargo test -p nonblocking-macros`.
#[cfg(test)]
mod snapshots {
    use std::path::PathBuf;

    use quote::quote;

    fn check(name: &str, args: TokenStream, item: TokenStream) {
        let expanded = super::server_function(args, item);
        let file: syn::File = syn::parse2(expanded).expect("the expansion parses as a file");
        let actual = prettyplease::unparse(&file);
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join(format!("{name}.expanded.rs"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "no snapshot at {}; record it with UPDATE_SNAPSHOTS=1",
                path.display()
            )
        });
        assert!(
            expected == actual,
            "the expansion of `{name}` changed; review it and re-record with UPDATE_SNAPSHOTS=1.\n--- {}\n{expected}\n--- now\n{actual}",
            path.display()
        );
    }

    use super::TokenStream;

    #[test]
    fn sync_function() {
        check(
            "sync",
            quote!(),
            quote! {
                /// Shouts.
                pub fn shout(text: String) -> String {
                    text.to_uppercase()
                }
            },
        );
    }

    #[test]
    fn async_function() {
        check(
            "async",
            quote!(name = "math.add"),
            quote! {
                pub async fn add(a: i64, b: i64) -> i64 {
                    a + b
                }
            },
        );
    }

    #[test]
    fn fallible_function() {
        check(
            "fallible",
            quote!(inline, require = "admin"),
            quote! {
                pub(crate) fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
                    text.parse()
                }
            },
        );
    }

    #[test]
    fn context_parameters() {
        check(
            "context",
            quote!(require = "user"),
            quote! {
                pub fn save(#[context] user: User, text: String, #[context] tenant: Option<Tenant>) -> Result<u32, String> {
                    Ok(text.len() as u32)
                }
            },
        );
    }

    #[test]
    fn progress_parameter() {
        check(
            "progress",
            quote!(),
            quote! {
                pub async fn import(#[context] user: User, rows: u32, #[context] progress: Progress<f32>) -> u32 {
                    rows
                }
            },
        );
    }

    #[test]
    fn stream_return() {
        check(
            "stream",
            quote!(name = "todo.rows"),
            quote! {
                pub async fn rows(count: u32) -> Items<Row> {
                    Items::from_iter((0..count).map(Row::new))
                }
            },
        );
    }

    #[test]
    fn errors_keep_the_function() {
        let expanded = super::server_function(
            quote!(name = ""),
            quote!(
                fn ping() {}
            ),
        );
        let text = expanded.to_string();
        assert!(text.starts_with("fn ping () { }"), "{text}");
        assert!(text.contains("compile_error"), "{text}");
    }
}
