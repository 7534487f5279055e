using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Console.Session;

namespace Automations.Console.Api;

/// <summary>A webhook the wizard may offer; a disabled one (a 410 Gone from its endpoint, say) is listed apart, with why.</summary>
public sealed record WizardWebhook(string Name, DateTimeOffset? DisabledAt, string DisabledReason);

public sealed record WizardJob(string Name, IReadOnlyList<int> Versions);

/// <summary>What the wizard's drop-downs offer. Secrets and integrations are null for a member (the Api lists them to admins only).</summary>
public sealed record WizardChoices(IReadOnlyList<WizardWebhook> Webhooks, IReadOnlyList<WizardJob> Jobs, IReadOnlyList<string> Queues,
    IReadOnlyList<string>? Integrations, IReadOnlyList<string>? Secrets);

/// <summary>The Api calls of the New automation wizard (services/Automations.Console/Components/Wizard).</summary>
public static class WizardApi
{
    /// <summary>The most jobs whose versions the wizard asks for (one call each); more jobs are listed with their latest version.</summary>
    public const int MaxJobsWithVersions = 50;

    public static string AutomationsPath(string? project) => project is null ? "/automations" : $"/projects/{ApiClient.Seg(project)}/automations";

    /// <summary>The project's automations, only to learn whether the Api takes the project's name (its 400 names the rule).</summary>
    public static Task<ApiAnswer> CheckProjectAsync(this TeamSession session, string project) => session.GetAsync(AutomationsPath(project) + "?limit=1");

    public static async Task<WizardChoices> WizardChoicesAsync(this TeamSession session)
    {
        var webhooksTask = session.GetAsync("/webhooks");
        var jobsTask = session.GetAsync("/jobs");
        var queuesTask = session.GetAsync("/queues");
        var secretsTask = session.IsAdmin ? Maybe(session.GetAsync("/secrets")) : Task.FromResult<ApiAnswer?>(null);
        var integrationsTask = session.IsAdmin ? Maybe(session.GetAsync("/integrations")) : Task.FromResult<ApiAnswer?>(null);
        await Task.WhenAll((Task[])[webhooksTask, jobsTask, queuesTask, secretsTask, integrationsTask]);

        var webhooks = webhooksTask.Result.Items()
            .Where(x => ApiAnswer.Str(x, "kind") is "" or "generic")
            .Select(x => new WizardWebhook(ApiAnswer.Str(x, "name"), ApiAnswer.Time(x, "disabledAt"), ApiAnswer.Str(x, "disabledReason")))
            .ToList();
        var jobList = jobsTask.Result.Items().ToList();
        var jobs = new List<WizardJob>();
        foreach (var (j, i) in jobList.Select((j, i) => (j, i)))
        {
            var name = ApiAnswer.Str(j, "name");
            var latest = int.TryParse(ApiAnswer.Str(j, "latestVersion"), out var l) ? l : (int?)null;
            if (latest is null) continue; // a job without versions cannot be launched
            List<int> versions = [latest.Value];
            if (i < MaxJobsWithVersions)
            {
                var full = await session.GetAsync($"/jobs/{ApiClient.Seg(ApiAnswer.Str(j, "id"))}");
                if (full.Ok && full.Body.TryGetProperty("versions", out var vs) && vs.ValueKind == JsonValueKind.Array)
                    versions = vs.EnumerateArray().Select(v => int.TryParse(ApiAnswer.Str(v, "version"), out var n) ? n : 0).Where(n => n > 0)
                        .OrderDescending().ToList();
            }
            jobs.Add(new WizardJob(name, versions));
        }
        static List<string> Names(ApiAnswer? a) => a is { Ok: true } ? a.Items().Select(x => ApiAnswer.Str(x, "name")).ToList() : [];
        return new WizardChoices(webhooks, jobs, Names(queuesTask.Result),
            integrationsTask.Result is { Ok: true } ? Names(integrationsTask.Result) : null,
            secretsTask.Result is { Ok: true } ? Names(secretsTask.Result) : null);
    }

    private static async Task<ApiAnswer?> Maybe(Task<ApiAnswer> call) => await call;

    public static Task<ApiAnswer> CreateAutomationAsync(this TeamSession session, string? project, JsonObject body) =>
        session.PostAsync(AutomationsPath(project), body.ToJsonString());

    /// <summary>The unsaved automation with a sample event beside it: the Api's preview (writes nothing, decrypts nothing).</summary>
    public static Task<ApiAnswer> PreviewAutomationAsync(this TeamSession session, string? project, JsonObject body, JsonNode sample)
    {
        body["sample"] = sample;
        return session.PostAsync(AutomationsPath(project) + "/preview", body.ToJsonString());
    }
}
