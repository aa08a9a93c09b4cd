//! The response side of `HttpFilter`: the provider's head (failover attempt, faults, translator,
//! guard, restore, cache capture, post hook, meter) and its body, chunk by chunk or whole; then
//! the usage published at the end. A child of `http.rs`, so it sees the filter's fields.

use super::*;

impl HttpFilter {
    pub fn on_response_headers(&mut self, host: &mut impl Host) -> Flow {
        if self.phase == Phase::Replied {
            // The filter's own local reply (a cache hit) passes back through here.
            return Flow::Continue;
        }
        if self.plan.as_ref().is_some_and(|p| p.failover.is_some()) {
            self.note_attempt(host);
        }
        if let (Some(config), Some(plan), Some(a)) = (self.config.clone(), self.plan.as_mut(), self.admission.as_ref()) {
            if self.steering.response_headers(host, &config) && plan.translation.is_none() {
                // Envoy's own plain-text reply, rewritten as an error in the client's dialect.
                plan.translation = Some(crate::api::translate::Translation { client: a.endpoint.dialect(), provider: crate::api::translate::Wire::Chat });
            }
        }
        let Some(plan) = &self.plan else { return Flow::Continue };
        self.limits.response_headers(host);
        if self.vertex.watches() {
            let status = host.response_header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
            self.vertex.on_status(host, status);
        }
        let Some(config) = self.config.clone() else { return Flow::Continue };
        if !plan.dropped.is_empty() {
            host.set_response_header("x-tollgate-dropped", Some(&plan.dropped.join(",")));
        }
        if config.response_headers {
            host.set_response_header("x-tollgate", Some(crate::VERSION));
            // The guard chose neither: the route did, and the model is the client's own.
            if config.role != Role::Guard {
                host.set_response_header("x-tollgate-provider", Some(&plan.provider_name));
                host.set_response_header("x-tollgate-model", Some(&plan.upstream_model));
            }
        }
        if let Some(a) = self.admission.as_ref() {
            self.post_hook = crate::filter::hooks::PolicyHooks::post_hook(&config, a, &crate::filter::cost::model_names(plan));
        }
        if self.post_hook.is_none() && !crate::filter::forward::reads_response(&config, plan, self.redaction.restores()) && self.cache.verdict().is_none() {
            // Nothing below would look at this response: spare the header-map read.
            return Flow::Continue;
        }
        host.read_response_headers();
        let status = host.response_header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
        self.status = status;
        let mut content_type = host.response_header("content-type").unwrap_or_default();
        if (200..300).contains(&status) && content_type.trim_start().starts_with(crate::eventstream::CONTENT_TYPE) {
            // Everything below (and the client) sees an SSE stream.
            content_type = "text/event-stream".to_string();
            host.set_response_header("content-type", Some(&content_type));
            host.set_response_header("content-length", None);
            self.event_stream = Some(crate::eventstream::EventStreamToSse::new());
        }
        // An answer the gateway cannot use becomes an error in the client's dialect.
        let client = self.admission.as_ref().map_or(Dialect::OpenAiChat, |a| a.endpoint.dialect());
        let encoding = host.response_header("content-encoding");
        let head = provider_faults::Head { status, content_type: &content_type, content_encoding: encoding.as_deref() };
        let translates = plan.translation.is_some();
        let reading = provider_faults::Reading { translates, reads: translates || self.redaction.restores(), stream: plan.stream };
        if let Some(why) = provider_faults::unreadable(&head, &reading) {
            // The head has not gone yet: Envoy sends this reply in its place and drops the rest.
            self.status = 502;
            let headers = [("content-type", "application/json"), ("x-tollgate", crate::VERSION)];
            host.send_reply(502, &headers, &provider_faults::unusable_body(why, client));
            self.phase = Phase::Replied;
            return Flow::Pause;
        }
        if !(200..300).contains(&status) && (translates || provider_faults::plain_error(&head)) {
            provider_faults::error_head(host);
            if !translates {
                self.fault = Fault::PlainError(status, client);
                return Flow::Continue;
            }
        }
        if let Some(t) = plan.translation {
            let created = host.now_nanos() / 1_000_000_000;
            let translator = ResponseTranslator::new(t, &plan.requested_model, created, plan.include_usage, status, &content_type);
            if translator.rewrites() {
                host.set_response_header("content-length", None);
            }
            self.translator = Some(translator);
        } else if !(200..300).contains(&status) && matches!(plan.provider_kind, ProviderKind::Bedrock | ProviderKind::Vertex) {
            // A cloud's own error shape (Bedrock's `{"message"}`, Google's) in the client's dialect.
            let client = self.admission.as_ref().map_or(Dialect::Anthropic, |a| a.endpoint.dialect());
            let t = crate::api::translate::Translation { client, provider: crate::api::translate::Wire::Messages };
            host.set_response_header("content-length", None);
            self.translator = Some(ResponseTranslator::new(t, &plan.requested_model, 0, false, status, &content_type));
        } else if (200..300).contains(&status) && content_type.trim_start().starts_with("text/event-stream") {
            let dialect = self.admission.as_ref().map_or(Dialect::OpenAiChat, |a| a.endpoint.dialect());
            let guard = StreamGuard::new(dialect, !plan.include_usage);
            if guard.rewrites() {
                host.set_response_header("content-length", None);
            }
            self.guard = Some(guard);
        }
        if let Some(a) = &self.admission {
            self.cache.on_response_headers(host, a, plan, status, &content_type);
        }
        let dialect = self.admission.as_ref().map_or(Dialect::OpenAiChat, |a| a.endpoint.dialect());
        if self.redaction.on_response_headers(dialect, status, &content_type) {
            host.set_response_header("content-length", None);
        }
        let held_for_hook = self.post_hook.is_some() && !content_type.trim_start().starts_with("text/event-stream");
        if held_for_hook {
            host.set_response_header("content-length", None);
        } else {
            // A stream is never held: its post hook gets the assembled text at the end, as audit only.
            self.post_stream = self.post_hook.take().map(|i| (i, crate::hooks::StreamText::default()));
        }
        if config.accounting {
            let native_responses = plan.translation.is_none() && self.admission.as_ref().is_some_and(|a| a.endpoint == Endpoint::Responses);
            let dialect = if native_responses { UsageDialect::OpenAiResponses } else { usage_dialect(plan) };
            self.meter = Some(ResponseMeter::for_response(dialect, status, &content_type));
        }
        // A translated JSON answer is read whole at its end: its head waits for it (with the header
        // hold), so an answer that does not translate can still say 502. An answer held for its post
        // hook waits too: the hook may still change the status.
        let hold = config.hold_headers && (200..300).contains(&status) && self.translator.as_ref().is_some_and(ResponseTranslator::buffers_body);
        if held_for_hook || hold {
            return Flow::Pause;
        }
        Flow::Continue
    }

    /// Meters (and, across dialects, translates) the response: JSON bodies are held to their end
    /// and read once; SSE chunks are framed as they pass and never held back.
    pub fn on_response_body(&mut self, host: &mut impl Host, body_size: usize, end_of_stream: bool) -> Flow {
        if self.phase == Phase::Replied {
            return Flow::Continue;
        }
        let timed = self.config.as_ref().is_some_and(|c| c.telemetry.stats || c.telemetry.filter_state);
        if body_size > 0 && self.first_byte_nanos.is_none() && self.plan.is_some() && timed {
            self.first_byte_nanos = Some(host.now_nanos());
        }
        if body_size > 0 {
            self.steering.body(host);
        }
        if let Some(flow) = self.fault.on_body(host, body_size, end_of_stream) {
            return flow;
        }
        if self.meter.is_none() && self.translator.is_none() && self.guard.is_none() && !self.redaction.active() && !self.cache.active() && self.post_hook.is_none() && self.post_stream.is_none() && self.event_stream.is_none() {
            return Flow::Continue;
        }
        let hold = self.post_hook.is_some()
            || self.meter.as_ref().is_some_and(ResponseMeter::buffers_body)
            || self.translator.as_ref().is_some_and(ResponseTranslator::buffers_body)
            || self.redaction.buffers_body()
            || self.cache.buffers_body();
        if hold {
            if !end_of_stream {
                return Flow::Pause;
            }
            let body = host.response_body(body_size).unwrap_or_default();
            self.cache.whole(&body);
            if let Some(u) = self.meter.as_ref().and_then(|m| m.json_usage(&body)) {
                self.publish(host, &u);
            }
            let translated = self.translator.as_ref().map(|t| match t.translate_whole(&body) {
                Ok(out) => out,
                Err(error) => {
                    // Still held (a 2xx translated JSON answer): the head can tell the truth.
                    host.set_response_header(":status", Some("502"));
                    self.status = 502;
                    error
                }
            });
            let restored = self.redaction.whole(translated.as_deref().unwrap_or(&body));
            let out = restored.or(translated);
            if let Some(out) = &out {
                host.replace_response_body(body_size, out);
            }
            if let (Some(i), Some(config), Some(admission)) = (self.post_hook.take(), self.config.clone(), self.admission.clone()) {
                let model = self.plan.as_ref().map(|p| p.requested_model.clone()).unwrap_or_default();
                let answer = out.as_deref().unwrap_or(&body);
                match self.hooks.start_post(host, &config, &admission, i, &model, self.status, Some(answer), None) {
                    Ok(true) => {
                        self.post_held = Some(answer.len());
                        return Flow::Pause;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.status = crate::filter::hooks::deny_answer(host, answer.len(), &e, admission.endpoint.dialect());
                    }
                }
            }
            return Flow::Continue;
        }
        let mut chunk = if body_size > 0 { host.response_body(body_size).unwrap_or_default() } else { Vec::new() };
        let framed = self.event_stream.as_mut().map(|e| e.feed(&chunk, end_of_stream));
        if let Some(sse) = &framed {
            chunk.clone_from(sse);
        }
        if let Some(m) = self.meter.as_mut() {
            m.feed(&chunk);
        }
        self.cache.chunk(&chunk, end_of_stream);
        // Provider bytes → translated (or guarded, in the client's own dialect) → restored.
        let mut out = None;
        if let Some(t) = self.translator.as_mut() {
            out = Some(t.chunk(&chunk, end_of_stream));
        } else if let Some(g) = self.guard.as_mut() {
            out = g.chunk(&chunk, end_of_stream);
        }
        let restored = self.redaction.chunk(out.as_deref().unwrap_or(&chunk), end_of_stream);
        let out = restored.or(out).or(framed);
        if let Some(out) = &out {
            host.replace_response_body(body_size, out);
        }
        if let Some((_, t)) = self.post_stream.as_mut() {
            t.feed(out.as_deref().unwrap_or(&chunk));
        }
        if end_of_stream {
            self.finish_stream(host);
            self.audit_stream(host);
        }
        Flow::Continue
    }

    /// Failover: the upstream role names the provider that answered; the response is then
    /// translated and metered for that provider.
    pub(super) fn note_attempt(&mut self, host: &mut impl Host) {
        let answered = host.response_header(gateway::ATTEMPT_HEADER);
        host.set_response_header(gateway::ATTEMPT_HEADER, None);
        let (Some(config), Some(admission), Some(plan)) = (self.config.clone(), self.admission.as_ref(), self.plan.as_mut()) else {
            return;
        };
        let Some(name) = answered else {
            // Envoy's own reply (no healthy upstream, timeout): nothing to translate.
            plan.translation = None;
            return;
        };
        let Some((idx, provider)) = config.providers.iter().enumerate().find(|(_, p)| p.name == name) else { return };
        plan.provider = idx;
        plan.provider_kind = provider.kind;
        if let Some(a) = plan.failover.as_ref().and_then(|f| f.attempts.iter().find(|a| a.provider == idx)) {
            plan.upstream_model = a.model.clone();
        }
        plan.translation = gateway::translation(admission.endpoint, provider, &plan.upstream_model).ok().flatten();
        if plan.provider_name != name {
            plan.provider_name = name;
            self.exports.set(host, &config, FilterStateName::Provider, &plan.provider_name);
            self.exports.set(host, &config, FilterStateName::UpstreamModel, &plan.upstream_model);
            self.exports.set_flag(host, &config, FilterStateName::FailedOver, true);
        }
    }

    /// Sends a finished stream's assembled text to its post hook (audit only, not waited for).
    pub(super) fn audit_stream(&mut self, host: &mut impl Host) {
        let (Some((i, t)), Some(config), Some(admission)) = (self.post_stream.take(), self.config.clone(), self.admission.clone()) else { return };
        let model = self.plan.as_ref().map(|p| p.requested_model.clone()).unwrap_or_default();
        let _ = self.hooks.start_post(host, &config, &admission, i, &model, self.status, None, Some(&t.text));
    }

    pub(super) fn finish_stream(&mut self, host: &mut impl Host) {
        if self.usage_published {
            return;
        }
        let estimate = self.plan.as_ref().map_or(0, |p| p.prompt_estimate);
        if let Some(u) = self.meter.as_mut().and_then(|m| m.stream_usage(estimate)) {
            self.publish(host, &u);
        }
    }

    pub(super) fn publish(&mut self, host: &mut impl Host, u: &Usage) {
        self.usage_published = true;
        self.usage = Some(*u);
        self.cost_micros = crate::filter::cost::cost_of(self.config.as_deref(), self.plan.as_ref(), u);
        if let Some(config) = self.config.as_deref() {
            self.exports.set_usage(host, config, u, self.cost_micros);
        }
    }
}
