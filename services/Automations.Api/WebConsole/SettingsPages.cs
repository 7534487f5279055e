using System.Text;
using System.Text.Json;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>Team settings: secrets (admins) and webhooks (members read, admins edit and test).</summary>
public static class SettingsPages
{
    private static string Api(ConsoleSession s) => $"/v1/entities/{ConsoleApi.Seg(s.Entity)}";
    private static string Here(ConsoleSession s) => $"/console/{ConsoleApi.Seg(s.Entity)}/settings";

    public static RouteGroupBuilder MapSettings(this RouteGroupBuilder g)
    {
        g.MapGet("/settings", (HttpContext http) => Results.Redirect(Here(http.Session()) + (http.Session().IsAdmin ? "/secrets" : "/webhooks")));
        g.MapGet("/settings/secrets", (HttpContext http, ConsoleApi api) => SecretsAsync(http, api, null, null, null));
        g.MapPost("/settings/secrets", CreateSecretAsync);
        g.MapPost("/settings/secrets/{name}/delete", DeleteSecretAsync);
        g.MapGet("/settings/webhooks", (HttpContext http, ConsoleApi api) => WebhooksAsync(http, api, null, null, null));
        g.MapPost("/settings/webhooks", CreateWebhookAsync);
        g.MapGet("/settings/webhooks/{id:guid}", (Guid id, HttpContext http, ConsoleApi api) => EditWebhookAsync(id, http, api, null, null));
        g.MapPost("/settings/webhooks/{id:guid}", UpdateWebhookAsync);
        g.MapPost("/settings/webhooks/{id:guid}/delete", DeleteWebhookAsync);
        g.MapGet("/settings/webhooks/{id:guid}/test", (Guid id, HttpContext http, ConsoleApi api) => TestPageAsync(id, http, api, null, null));
        g.MapPost("/settings/webhooks/{id:guid}/test", TestWebhookAsync);
        g.MapGet("/settings/integrations", (HttpContext http, ConsoleApi api) => IntegrationsAsync(http, api, null, null));
        g.MapPost("/settings/integrations", CreateIntegrationAsync);
        g.MapPost("/settings/integrations/{id:guid}/delete", DeleteIntegrationAsync);
        return g;
    }

    // ---- integrations (admins) ----

    private static readonly (string, string)[] IntegrationKindOptions = [("slack", "Slack incoming webhook"), ("teams", "Microsoft Teams (Workflows) webhook")];

    private static async Task<IResult> IntegrationsAsync(HttpContext http, ConsoleApi api, Dictionary<string, List<string>>? errors, (string Name, string Kind)? form)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var list = await api.GetAsync(s.Key, Api(s) + "/integrations", http.RequestAborted);
        if (!list.Ok) return Error(http, (int)list.Status, "Integrations", list.Detail, s);
        var rows = new StringBuilder();
        foreach (var x in Items(list.Body))
        {
            var disabled = Str(x, "disabledAt").Length > 0;
            rows.Append($"""
                <tr><td data-label="Name">{E(x, "name")}</td><td data-label="Kind">{E(x, "kind")}</td><td data-label="URL"><code>{E(x, "url")}</code></td>
                <td data-label="Status">{(disabled ? $"""<span class="badge off">disabled</span> {E(x, "disabledReason")}""" : """<span class="badge on">active</span>""")}</td>
                <td data-label=""><form method="post" action="{Here(s)}/integrations/{E(x, "id")}/delete" onsubmit="return confirm('Delete this integration?')">{Csrf(http)}
                <button class="danger" type="submit" aria-label="Delete integration {E(x, "name")}">Delete</button></form></td></tr>
                """);
        }
        var table = rows.Length == 0 ? "<p>No integrations yet.</p>"
            : $"""<div class="table"><table id="integrations" class="stack"><thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">URL</th><th scope="col">Status</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody>{rows}</tbody></table></div>""";
        var body = $"""
            <section aria-labelledby="list-h"><h2 id="list-h">Notification integrations</h2><p><small>Slack and Teams incoming-webhook URLs are stored encrypted and shown masked.</small></p>{table}</section>
            <section aria-labelledby="new-h"><h2 id="new-h">New integration</h2>
            <form method="post" action="{Here(s)}/integrations" id="new-integration">{Csrf(http)}{OtherErrors(errors, "name", "kind", "url")}
            {Input("Name", "name", "integration-name", form?.Name, errors, "name", required: true)}
            {Select("Kind", "kind", "integration-kind", form?.Kind ?? "slack", IntegrationKindOptions, errors, "kind")}
            {Input("Incoming-webhook URL", "url", "integration-url", null, errors, "url", type: "password", required: true, hint: "e.g. https://hooks.slack.com/services/…; kept secret, never shown again")}
            <button type="submit">Create integration</button></form></section>
            """;
        return Page(http, "Team settings · Integrations", body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> CreateIntegrationAsync(HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var (name, kind) = (form["name"].ToString().Trim(), form["kind"].ToString());
        var answer = await api.PostAsync(s.Key, Api(s) + "/integrations", new { name, kind, url = form["url"].ToString().Trim() }, http.RequestAborted);
        if (!answer.Ok) return await IntegrationsAsync(http, api, answer.Errors(), (name, kind));
        return Results.Redirect(Here(s) + "/integrations");
    }

    private static async Task<IResult> DeleteIntegrationAsync(Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var answer = await api.DeleteAsync(s.Key, $"{Api(s)}/integrations/{id}", http.RequestAborted);
        if (!answer.Ok) return await IntegrationsAsync(http, api, new() { [""] = [answer.Detail] }, null);
        return Results.Redirect(Here(s) + "/integrations");
    }

    // ---- secrets ----

    private static async Task<IResult> SecretsAsync(HttpContext http, ConsoleApi api, Dictionary<string, List<string>>? errors, string? name, string? notice)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var list = await api.GetAsync(s.Key, Api(s) + "/secrets", http.RequestAborted);
        if (!list.Ok) return Error(http, (int)list.Status, "Team secrets", list.Detail, s);
        var rows = new StringBuilder();
        foreach (var x in Items(list.Body))
        {
            var n = Str(x, "name");
            rows.Append($"""
                <tr><td data-label="Name"><code>{E(n)}</code></td><td data-label="Created">{Time(x, "createdAt")}</td><td data-label="Updated">{Time(x, "updatedAt")}</td>
                <td data-label=""><form method="post" action="{Here(s)}/secrets/{E(ConsoleApi.Seg(n))}/delete" onsubmit="return confirm('Delete the secret {E(n)}?')">{Csrf(http)}
                <button type="submit" class="danger" aria-label="Delete secret {E(n)}">Delete</button></form></td></tr>
                """);
        }
        var table = rows.Length == 0 ? "<p>No secrets yet.</p>"
            : $"""<div class="table"><table id="secrets" class="stack"><thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Updated</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody>{rows}</tbody></table></div>""";
        var body = $"""
            {(notice is null ? "" : $"""<p class="notice" role="status">{E(notice)}</p>""")}
            <section aria-labelledby="list-h"><h2 id="list-h">Team secrets</h2><p><small>Values are stored encrypted and never shown again.</small></p>{table}</section>
            <section aria-labelledby="new-h"><h2 id="new-h">New secret</h2>
            <form method="post" action="{Here(s)}/secrets" id="new-secret">{Csrf(http)}{OtherErrors(errors, "name", "value")}
            {Input("Name", "name", "secret-name", name, errors, "name", required: true, hint: "Used as ${NAME} in payloads: letters, digits and _")}
            {Input("Value", "value", "secret-value", null, errors, "value", type: "password", required: true)}
            <button type="submit">Create secret</button></form></section>
            """;
        return Page(http, "Team settings · Secrets", body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> CreateSecretAsync(HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var name = form["name"].ToString().Trim();
        var answer = await api.PostAsync(s.Key, Api(s) + "/secrets", new { name, value = form["value"].ToString() }, http.RequestAborted);
        if (!answer.Ok) return await SecretsAsync(http, api, answer.Errors(), name, null);
        return Results.Redirect(Here(s) + "/secrets");
    }

    private static async Task<IResult> DeleteSecretAsync(string name, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var answer = await api.DeleteAsync(s.Key, $"{Api(s)}/secrets/{ConsoleApi.Seg(name)}", http.RequestAborted);
        if (!answer.Ok) return await SecretsAsync(http, api, new() { [""] = [answer.Detail] }, null, null);
        return Results.Redirect(Here(s) + "/secrets");
    }

    // ---- webhooks ----

    private static async Task<List<(string, string)>> SecretOptionsAsync(HttpContext http, ConsoleApi api, ConsoleSession s)
    {
        var list = await api.GetAsync(s.Key, Api(s) + "/secrets", http.RequestAborted);
        var options = new List<(string, string)> { ("", "(none)") };
        options.AddRange(Items(list.Body).Select(x => (Str(x, "name"), Str(x, "name"))));
        return options;
    }

    private sealed record WebhookForm(string Name, string Url, string Secret, string AccessToken)
    {
        public object Body => new { name = Name, url = Url, secret = NullIfEmpty(Secret), accessToken = NullIfEmpty(AccessToken) };
        private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
    }

    private static async Task<WebhookForm> ReadWebhookFormAsync(HttpContext http)
    {
        var f = await http.Request.ReadFormAsync(http.RequestAborted);
        return new WebhookForm(f["name"].ToString().Trim(), f["url"].ToString().Trim(), f["secret"].ToString(), f["accessToken"].ToString());
    }

    private static string WebhookFields(List<(string, string)> secrets, WebhookForm? w, Dictionary<string, List<string>>? errors) => $"""
        {OtherErrors(errors, "name", "url", "secret", "accessToken")}
        {Input("Name", "name", "webhook-name", w?.Name, errors, "name", required: true)}
        {Input("URL", "url", "webhook-url", w?.Url, errors, "url", type: "url", required: true, hint: "http(s) with a DNS name: IP addresses and localhost are refused (a receiver on this machine: use its host name)")}
        {Select("Secret (signs the body, X-Wandb-Signature)", "secret", "webhook-secret", w?.Secret, secrets, errors, "secret")}
        {Select("Access token (sent as Authorization: Bearer)", "accessToken", "webhook-token", w?.AccessToken, secrets, errors, "accessToken")}
        """;

    private static async Task<IResult> WebhooksAsync(HttpContext http, ConsoleApi api, Dictionary<string, List<string>>? errors, WebhookForm? form, string? notice)
    {
        var s = http.Session();
        var list = await api.GetAsync(s.Key, Api(s) + "/webhooks", http.RequestAborted);
        if (!list.Ok) return Error(http, (int)list.Status, "Webhooks", list.Detail, s);
        var rows = new StringBuilder();
        foreach (var x in Items(list.Body))
        {
            var id = Str(x, "id");
            var disabled = Str(x, "disabledAt").Length > 0;
            var actions = s.IsAdmin
                ? $"""
                  <div class="row-actions"><a class="button secondary" href="{Here(s)}/webhooks/{E(id)}">Edit</a>
                  <a class="button secondary" href="{Here(s)}/webhooks/{E(id)}/test">Test</a>
                  <form method="post" action="{Here(s)}/webhooks/{E(id)}/delete" onsubmit="return confirm('Delete this webhook?')">{Csrf(http)}<button class="danger" type="submit" aria-label="Delete webhook {E(x, "name")}">Delete</button></form></div>
                  """
                : "";
            rows.Append($"""
                <tr><td data-label="Name">{E(x, "name")}</td><td data-label="URL"><code>{E(x, "url")}</code></td><td data-label="Secret">{E(x, "secret")}</td><td data-label="Access token">{E(x, "accessToken")}</td>
                <td data-label="Status">{(disabled ? $"""<span class="badge off">disabled</span> {E(x, "disabledReason")}""" : """<span class="badge on">active</span>""")}</td><td data-label="">{actions}</td></tr>
                """);
        }
        var table = rows.Length == 0 ? "<p>No webhooks yet.</p>"
            : $"""<div class="table"><table id="webhooks" class="stack"><thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Secret</th><th scope="col">Access token</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead><tbody>{rows}</tbody></table></div>""";
        var create = s.IsAdmin
            ? $"""
              <section aria-labelledby="new-h"><h2 id="new-h">New webhook</h2>
              <form method="post" action="{Here(s)}/webhooks" id="new-webhook">{Csrf(http)}{WebhookFields(await SecretOptionsAsync(http, api, s), form, errors)}
              <button type="submit">Create webhook</button></form></section>
              """
            : """<p class="notice">Only team admins add, change or test webhooks.</p>""";
        var body = $"""
            {(notice is null ? "" : $"""<p class="notice" role="status">{E(notice)}</p>""")}
            {(errors is not null && form is null ? OtherErrors(errors) : "")}
            <section aria-labelledby="list-h"><h2 id="list-h">Webhooks</h2>{table}</section>{create}
            """;
        return Page(http, "Team settings · Webhooks", body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> CreateWebhookAsync(HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var form = await ReadWebhookFormAsync(http);
        var answer = await api.PostAsync(s.Key, Api(s) + "/webhooks", form.Body, http.RequestAborted);
        if (!answer.Ok) return await WebhooksAsync(http, api, answer.Errors(), form, null);
        return Results.Redirect(Here(s) + "/webhooks");
    }

    private static async Task<IResult> EditWebhookAsync(Guid id, HttpContext http, ConsoleApi api, Dictionary<string, List<string>>? errors, WebhookForm? form)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var w = await api.GetAsync(s.Key, $"{Api(s)}/webhooks/{id}", http.RequestAborted);
        if (!w.Ok) return Error(http, (int)w.Status, "Webhook", w.Detail, s);
        form ??= new WebhookForm(Str(w.Body, "name"), Str(w.Body, "url"), Str(w.Body, "secret"), Str(w.Body, "accessToken"));
        var body = $"""
            <p><a href="{Here(s)}/webhooks">← Webhooks</a></p>
            <section><form method="post" action="{Here(s)}/webhooks/{id}" id="edit-webhook">{Csrf(http)}{WebhookFields(await SecretOptionsAsync(http, api, s), form, errors)}
            <button type="submit">Save</button> <a class="button secondary" href="{Here(s)}/webhooks/{id}/test">Test</a></form></section>
            """;
        return Page(http, $"Edit webhook {Str(w.Body, "name")}", body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> UpdateWebhookAsync(Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var form = await ReadWebhookFormAsync(http);
        var answer = await api.PutAsync(s.Key, $"{Api(s)}/webhooks/{id}", form.Body, http.RequestAborted);
        if (!answer.Ok) return await EditWebhookAsync(id, http, api, answer.Errors(), form);
        return Results.Redirect(Here(s) + "/webhooks");
    }

    private static async Task<IResult> DeleteWebhookAsync(Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var answer = await api.DeleteAsync(s.Key, $"{Api(s)}/webhooks/{id}", http.RequestAborted);
        if (!answer.Ok) return await WebhooksAsync(http, api, new() { [""] = [answer.Detail] }, null, null);
        return Results.Redirect(Here(s) + "/webhooks");
    }

    // ---- test ----

    private const string DefaultTestPayload = """{"event_type": "TEST", "message": "Hello from the Automations console"}""";

    private static async Task<IResult> TestPageAsync(Guid id, HttpContext http, ConsoleApi api, string? payload, ApiAnswer? result)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var w = await api.GetAsync(s.Key, $"{Api(s)}/webhooks/{id}", http.RequestAborted);
        if (!w.Ok) return Error(http, (int)w.Status, "Webhook", w.Detail, s);
        var secrets = await SecretOptionsAsync(http, api, s);
        var errors = result is { Ok: false } ? result.Errors() : null;
        var body = $"""
            <p><a href="{Here(s)}/webhooks">← Webhooks</a> · <code>{E(w.Body, "url")}</code></p>
            <section><form method="post" action="{Here(s)}/webhooks/{id}/test" id="test-webhook">{Csrf(http)}
            {OtherErrors(errors, "payload")}
            <div class="field"><label for="payload">Payload (JSON)</label>
            <small id="payload-hint">Sent once as it is; ${"{"}NAME{"}"} of a team secret is filled in and masked in the report below. Secrets: {string.Join(", ", secrets.Skip(1).Select(x => E(x.Item1)))}</small>
            <textarea id="payload" name="payload" spellcheck="false" aria-describedby="payload-hint{(errors?.ContainsKey("payload") == true ? " payload-error" : "")}">{E(payload ?? DefaultTestPayload)}</textarea>
            {FieldErrors(errors, "payload", "payload")}</div>
            <button type="submit">Send test</button></form></section>
            {(result is { Ok: true } ? Report(result.Body) : "")}
            """;
        return Page(http, $"Test webhook {Str(w.Body, "name")}", body, s, errors is null ? 200 : 400);
    }

    private static string Headers(JsonElement e, string property)
    {
        if (!e.TryGetProperty(property, out var h) || h.ValueKind != JsonValueKind.Object) return "";
        var rows = string.Concat(h.EnumerateObject().Select(p => $"<tr><th scope=\"row\">{E(p.Name)}</th><td><code>{E(p.Value.ToString())}</code></td></tr>"));
        return $"""<div class="table"><table>{rows}</table></div>""";
    }

    private static string Report(JsonElement r)
    {
        var success = r.TryGetProperty("success", out var ok) && ok.ValueKind == JsonValueKind.True;
        var latency = r.TryGetProperty("latencyMs", out var l) && l.TryGetDouble(out var ms) ? $"{ms:0} ms" : "";
        return $"""
            <section id="test-result" aria-labelledby="result-h" aria-live="polite"><h2 id="result-h">Response</h2>
            <p><span class="badge {(success ? "on" : "off")}" id="test-outcome">{(success ? "success" : "failed")}</span>
            Status <strong id="test-status">{E(r, "statusCode")}</strong> · Latency <span id="test-latency">{E(latency)}</span></p>
            {(Str(r, "error").Length > 0 ? $"""<p class="error">{E(r, "error")}</p>""" : "")}
            <h3>Headers</h3>{Headers(r, "responseHeaders")}
            <h3>Body <small>(secrets masked{(r.TryGetProperty("responseTruncated", out var cut) && cut.ValueKind == JsonValueKind.True ? "; truncated" : "")})</small></h3><pre id="test-response-body">{E(r, "responseBody")}</pre>
            <h2>Request sent <small>(secrets masked)</small></h2>
            <p><code>POST {E(r, "requestUrl")}</code></p>{Headers(r, "requestHeaders")}
            <pre id="test-request-body">{E(r, "requestBody")}</pre></section>
            """;
    }

    private static async Task<IResult> TestWebhookAsync(Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var payload = form["payload"].ToString();
        var answer = await api.PostAsync(s.Key, $"{Api(s)}/webhooks/{id}/test", payload, http.RequestAborted);
        return await TestPageAsync(id, http, api, payload, answer);
    }
}
