using System.Text.Json;
using System.Text.Json.Nodes;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>
/// The wizard's Preview: the automation as filled in so far and a sample event go to the Api's
/// <c>POST …/automations/preview</c>; the wizard comes back with the same values and the answer (match or the filter
/// that refused, and what would be sent, secrets masked). Nothing is saved. Its button comes after Create, so Create
/// stays the form's default button (Enter in a field creates, as before). The team page's wizard (a null project) previews
/// through the team preview, which also says whether the project regex finds the sample's project.
/// </summary>
public static partial class AutomationPages
{
    /// <summary>A team automation's sample names an example project: the user puts one of the team's there.</summary>
    private const string TeamSampleProject = "mnist";

    private static string DefaultSample(ConsoleSession s, string? project) =>
        JsonSerializer.Serialize(new
        {
            eventId = "preview-1", eventType = "ADD_ARTIFACT_ALIAS", entity = s.Entity, project = project ?? TeamSampleProject, collection = "eval-set", versionIndex = 3,
            alias = "production", author = "jane", occurredAt = "2026-11-27T22:41:00Z", metadata = new { accuracy = 0.93 },
        }, new JsonSerializerOptions { WriteIndented = true });

    private static async Task<IResult> PreviewAsync(string? project, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        // The wizard of team automations is an admin's (the API would let a member preview, but not create).
        if (project is null && !s.IsAdmin) return Error(http, 403, "Forbidden", "Only a team admin can create team automations.", s);
        var f = await http.Request.ReadFormAsync(http.RequestAborted);
        var form = WizardForm.From(f);
        var sample = f["sample"].ToString();
        var (body, errors) = form.ToBody();
        if (body is null) return await WizardAsync(project, http, api, form, errors, PreviewSection(s, project, sample, null, null));
        var request = JsonSerializer.SerializeToNode(body, JsonSerializerOptions.Web)!.AsObject();
        try
        {
            request["sample"] = JsonNode.Parse(sample);
        }
        catch (JsonException)
        {
            var problem = new Dictionary<string, List<string>> { ["sample"] = ["is not JSON: paste an event as a producer sends it to /v1/events"] };
            return await WizardAsync(project, http, api, form, null, PreviewSection(s, project, sample, problem, null));
        }
        var answer = await api.PostAsync(s.Key, Api(s, project) + "/preview", request.ToJsonString(), http.RequestAborted);
        if (!answer.Ok)
        {
            var refused = answer.Errors();
            if (refused.Count == 0) refused[""] = [answer.Detail];
            var sampleErrors = refused.Where(e => e.Key.StartsWith("sample", StringComparison.Ordinal) || e.Key.StartsWith("metricHistory", StringComparison.Ordinal))
                .ToDictionary(e => e.Key, e => e.Value);
            return await WizardAsync(project, http, api, form, refused, PreviewSection(s, project, sample, sampleErrors, null));
        }
        return await WizardAsync(project, http, api, form, null, PreviewSection(s, project, sample, null, answer.Body));
    }

    private static string PreviewSection(ConsoleSession s, string? project, string sample, IDictionary<string, List<string>>? errors, JsonElement? answer)
    {
        var problems = errors is { Count: > 0 }
            ? $"""<p class="error" id="sample-error" role="alert">{string.Join("<br>", errors.SelectMany(e => e.Value.Select(m => E($"{e.Key}: {m}"))))}</p>"""
            : "";
        return $"""
            <fieldset id="preview"><legend>5. Preview (optional)</legend>
            <div class="field"><label for="sample">Sample event</label>
            <small id="sample-hint">JSON, as a producer sends it to /v1/events (an artifact event, or a RUN_STATE or RUN_METRIC event for a run automation).{(project is null ? " Put one of the team's projects in <code>project</code> to see whether the project regex finds it." : "")} Nothing is saved or sent.</small>
            <textarea id="sample" name="sample" spellcheck="false" style="min-height:8rem" aria-describedby="sample-hint{(problems.Length > 0 ? " sample-error" : "")}">{E(sample)}</textarea>{problems}</div>
            <button type="submit" class="secondary" id="preview-button" formaction="{Here(s, project)}/new/preview">Preview with this event</button>
            {(answer is { } a ? PreviewResult(a) : "")}
            </fieldset>
            """;
    }

    private static string PreviewResult(JsonElement a)
    {
        var matches = a.TryGetProperty("matches", out var m) && m.ValueKind == JsonValueKind.True;
        var refusal = a.TryGetProperty("refusal", out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
        var verdict = matches
            ? "<strong>Matches:</strong> this event would fire the automation."
            : $"<strong>Does not match</strong> (<code>{E(refusal, "field")}</code>): {E(refusal, "reason")}";
        // Team automations only: the project regex decided apart from the other filters.
        var projectLine = a.TryGetProperty("projectMatches", out var pm) && pm.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? $"""<p id="preview-project">{(pm.GetBoolean() ? "The project regex finds the sample's project." : "The project regex does not find the sample's project: the automation does not watch it.")}</p>"""
            : "";
        var notes = a.TryGetProperty("notes", out var n) ? string.Concat(Items(n).Select(x => $"<li>{E(x.GetString())}</li>")) : "";
        var action = a.TryGetProperty("action", out var act) ? act : default;
        var what = Str(action, "type") switch
        {
            "no_op" => $"<p>{E(action, "effect")}</p>",
            "launch" => $"""<p>Queue job <strong>{E(action, "job")}</strong> v{E(action, "jobVersion")} on <strong>{E(action, "queue")}</strong> with these overrides:</p><pre>{E(Pretty(action.TryGetProperty("overrides", out var o) ? o.GetRawText() : "{}"))}</pre>""",
            _ when action.ValueKind == JsonValueKind.Object && action.TryGetProperty("request", out var req) && req.ValueKind == JsonValueKind.Object =>
                $"""<p>POST <code>{E(req, "url")}</code></p><pre id="preview-headers">{E(string.Join("\n", req.TryGetProperty("headers", out var h) ? h.EnumerateObject().Select(x => $"{x.Name}: {x.Value.GetString()}") : Enumerable.Empty<string>()))}</pre><pre id="preview-body">{E(Pretty(Str(req, "body")))}</pre>""",
            _ => $"<p>{E(action, "effect")}</p>",
        };
        return $"""<div class="notice" role="status" id="preview-result"><p>{verdict}</p>{projectLine}{what}{(notes.Length > 0 ? $"<ul>{notes}</ul>" : "")}</div>""";
    }

    private static string Pretty(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
        catch (JsonException)
        {
            return json;
        }
    }
}
