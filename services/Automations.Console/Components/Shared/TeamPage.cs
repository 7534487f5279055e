using Automations.Console.Api;
using Automations.Console.Session;
using Microsoft.AspNetCore.Components;

namespace Automations.Console.Components.Shared;

/// <summary>
/// A page of one team's console: another team's pages answer 404 (as the Api does, so their names are not revealed);
/// what the Api refuses (403 to a member) is answered with the same status and no form.
/// </summary>
public abstract class TeamPage : ComponentBase
{
    [CascadingParameter] public HttpContext HttpContext { get; set; } = default!;
    [Parameter] public string Entity { get; set; } = "";
    [Inject] protected TeamSession Session { get; set; } = default!;
    [Inject] protected Flash Flash { get; set; } = default!;
    [Inject] protected NavigationManager Nav { get; set; } = default!;

    /// <summary>The status and message when the page shows nothing but why.</summary>
    protected (int Status, string Message)? Refused { get; private set; }

    /// <summary>
    /// The page's data is in. The framework renders once already at the page's first await, before it is: a page's body
    /// renders only when this is true.
    /// </summary>
    protected bool Loaded { get; private set; }

    protected string Team => Uri.EscapeDataString(Entity);
    protected string Settings(string rest = "") => $"/{Team}/settings{(rest.Length > 0 ? "/" + rest : "")}";

    protected sealed override async Task OnInitializedAsync()
    {
        if (!Session.Owns(Entity))
        {
            Refuse(404, "There is no such page for your team.");
            return;
        }
        await LoadAsync();
        Loaded = true;
    }

    protected abstract Task LoadAsync();

    protected void Refuse(int status, string message)
    {
        Refused = (status, message);
        HttpContext.Response.StatusCode = status;
    }

    /// <summary>Mirrors a refused read: 403 and 404 as the Api said, anything else as "unavailable".</summary>
    protected void Refuse(ApiAnswer answer, string forbidden)
    {
        switch ((int)answer.Status)
        {
            case 403 when !answer.Unreachable: Refuse(403, forbidden); break;
            case 404 when !answer.Unreachable: Refuse(404, "There is no such page for your team."); break;
            default: Refuse(503, FormText.Clean(answer.Detail)); break;
        }
    }

    /// <summary>Post/redirect/get: the message waits in <see cref="Flash"/> for the page the browser is sent to.</summary>
    protected void Redirect(string url, FlashMessage message)
    {
        Flash.Set(message);
        Nav.NavigateTo(url);
    }

    protected static string When(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture) : "";
}
