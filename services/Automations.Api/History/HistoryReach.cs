using System.Globalization;
using System.Xml;
using Automations.Persistence.Retention;
using Microsoft.Extensions.Options;

namespace Automations.Api.History;

/// <summary>
/// How far back the history endpoints reach, from the Api's own `Retention` section (which must hold the same values as
/// every other service's: the writers drop what is older). Everything from <see cref="Since"/> on is kept; older rows
/// leave a partition at a time (up to one <c>Retention:Interval</c> later), and a delivery still retrying stays until it
/// finishes.
/// </summary>
/// <param name="KeptFor">ISO 8601 duration (<c>P30D</c>).</param>
public sealed record HistoryReach(string KeptFor, DateTimeOffset Since)
{
    public const string KeptForHeader = "Automations-History-Kept-For";
    public const string SinceHeader = "Automations-History-Since";

    public static HistoryReach Now(RetentionOptions options, TimeProvider clock)
    {
        var since = clock.GetUtcNow() - options.History;
        return new(XmlConvert.ToString(options.History), since.AddTicks(-(since.Ticks % TimeSpan.TicksPerSecond)));
    }

    /// <summary>The reach as response headers, for every history answer (also those whose body is a bare array).</summary>
    public static HistoryReach Announce(HttpContext http)
    {
        var reach = Now(http.RequestServices.GetRequiredService<IOptionsMonitor<RetentionOptions>>().CurrentValue,
            http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System);
        http.Response.Headers[KeptForHeader] = reach.KeptFor;
        http.Response.Headers[SinceHeader] = reach.Since.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        return reach;
    }
}
