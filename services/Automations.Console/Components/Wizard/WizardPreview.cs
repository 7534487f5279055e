using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Console.Api;
using Automations.Console.Session;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Automations.Console.Components.Wizard;

/// <summary>The Api's preview of the automation as filled in, or why there is none, by the wizard's field ids and in its words.</summary>
public sealed record PreviewOutcome(JsonElement? Answer, Dictionary<string, string> Errors, string? Message);

/// <summary>
/// The wizard's Preview: the Preview button's post (NewAutomation.razor) and the live preview wwwroot/wizard.js asks for
/// as the user edits (<see cref="MapWizardLivePreview"/>) share it, so both say the same thing in the same words.
/// </summary>
public static class WizardPreview
{
    public static async Task<PreviewOutcome> PreviewAsync(this TeamSession session, string? project, WizardForm form)
    {
        var (body, errors) = form.ToBody(team: project is null);
        JsonNode? sample = null;
        if (WizardForm.JsonError("Sample event", form.Sample) is { } sampleError) errors["sample"] = sampleError;
        else sample = JsonNode.Parse(form.Sample!);
        if (body is null || sample is null) return new PreviewOutcome(null, errors, WizardForm.Summary(errors.Count) + " Nothing was previewed.");
        var answer = await session.PreviewAutomationAsync(project, body, sample);
        if (answer.Ok) return new PreviewOutcome(answer.Body, new Dictionary<string, string>(), null);
        var (refused, message) = FormText.Refusal(answer, WizardForm.Fields);
        // The sample's own fields (sample.eventType, …) are named inside the sample, not as the whole field.
        var sampleErrors = answer.FieldErrors().Where(e => e.Field.StartsWith("sample.", StringComparison.Ordinal))
            .Select(e => FormText.ForField($"Sample event: {e.Field["sample.".Length..]}", e.Message)).ToList();
        if (sampleErrors.Count > 0) refused["sample"] = string.Join(" ", sampleErrors.Select(e => e.EndsWith('.') ? e : e + "."));
        return new PreviewOutcome(null, refused, message + (refused.Count > 0 ? " Nothing was previewed." : ""));
    }

    public static string LivePath(string entity, string? project) => project is null
        ? $"/{Uri.EscapeDataString(entity)}/automations/new/preview"
        : $"/{Uri.EscapeDataString(entity)}/projects/{Uri.EscapeDataString(project)}/automations/new/preview";

    /// <summary>
    /// The live preview: the wizard's form as posted (antiforgery token included), checked as the wizard page checks its
    /// visitor (signed in, own team, admins only for a team automation), sent to the Api with the session's key; the
    /// answer is a small HTML fragment. The key stays in the session cookie; the page never sees it.
    /// </summary>
    public static IEndpointRouteBuilder MapWizardLivePreview(this IEndpointRouteBuilder app)
    {
        app.MapPost("/{entity}/projects/{project}/automations/new/preview",
            (string entity, string project, HttpContext http, TeamSession session, IAntiforgery antiforgery) => LiveAsync(http, session, antiforgery, entity, project));
        app.MapPost("/{entity}/automations/new/preview",
            (string entity, HttpContext http, TeamSession session, IAntiforgery antiforgery) => LiveAsync(http, session, antiforgery, entity, null));
        return app;
    }

    private static readonly PropertyInfo[] FormFields = typeof(WizardForm).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.PropertyType == typeof(string) && p.CanWrite && p.Name != nameof(WizardForm.Intent)).ToArray();

    private static async Task<IResult> LiveAsync(HttpContext http, TeamSession session, IAntiforgery antiforgery, string entity, string? project)
    {
        // Problem bodies: an empty 4xx would be re-executed as the not-found page.
        if (!session.SignedIn) return Results.Problem(statusCode: 401, title: "Signed out", detail: "Sign in again to preview.");
        if (!session.Owns(entity)) return Results.Problem(statusCode: 404, title: "Not found", detail: "There is no such page for your team.");
        if (project is null && !session.IsAdmin)
            return Results.Problem(statusCode: 403, title: "Forbidden", detail: "Only team admins create team automations.");
        IFormCollection posted;
        try
        {
            if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http))
                return Results.Problem(statusCode: 400, title: "Form expired", detail: "Reload the page to preview again.");
            posted = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException or AntiforgeryValidationException)
        {
            // A form over the framework's limits (a value of more than 4 MB, too many fields): antiforgery cannot read its token.
            return Results.Problem(statusCode: 400, title: "Form too large", detail: "The form could not be read; shorten the payload or the sample.");
        }

        // The fields as the wizard's EditForm names them (Form.Payload, …): the same form, so the same checks.
        var form = new WizardForm();
        foreach (var p in FormFields)
            if (posted.TryGetValue($"Form.{p.Name}", out var value)) p.SetValue(form, value.ToString());
        var outcome = await session.PreviewAsync(project, form);
        return new RazorComponentResult<LivePreview>(new Dictionary<string, object?> { [nameof(LivePreview.Outcome)] = outcome });
    }
}
