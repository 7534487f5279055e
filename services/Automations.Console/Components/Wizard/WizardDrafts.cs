using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;

namespace Automations.Console.Components.Wizard;

/// <summary>
/// What a wizard post brings back to the page it redirects to: the values typed (a payload is too long for the message
/// cookie), the errors of that post by field id, its message and a preview's answer. Never a secret value: the form
/// holds secret names only.
/// </summary>
public sealed record WizardDraft(string Owner, string Page, WizardForm Values, Dictionary<string, string> Errors, string? Message, bool Ok,
    JsonElement? Preview, string? PreviewProblem);

/// <summary>
/// Drafts wait in this replica's memory (as webhook test results do) for thirty minutes, readable only by the same key on
/// the same wizard. Errors, message and preview show once: the first read keeps the values only, so a refresh shows the
/// form as typed without the last post's verdicts.
/// </summary>
public static class WizardDrafts
{
    private static readonly TimeSpan Keep = TimeSpan.FromMinutes(30);

    public static string Store(IMemoryCache cache, WizardDraft draft)
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        cache.Set("wizard:" + id, draft, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = Keep });
        return id;
    }

    public static WizardDraft? Take(IMemoryCache cache, string? id, string owner, string page)
    {
        if (id is not { Length: > 0 and <= 64 } || !cache.TryGetValue("wizard:" + id, out WizardDraft? draft) || draft is null
            || draft.Owner != owner || draft.Page != page) return null;
        cache.Set("wizard:" + id, draft with { Errors = new(StringComparer.Ordinal), Message = null, Preview = null, PreviewProblem = null },
            new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = Keep });
        return draft;
    }
}
