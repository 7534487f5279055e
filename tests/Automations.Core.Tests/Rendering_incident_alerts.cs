using System.Text.Json;
using Automations.Core.Notifications;
using Automations.Core.Templates;

namespace Automations.Core.Tests;

/// <summary>The operational alert bodies (docs/alerts.md): parse as JSON, and nothing in them is ever a secret reference.</summary>
public class Rendering_incident_alerts
{
    private static IncidentAlertFacts Facts(string change, string name = "deploy hook") => new(change, Guid.NewGuid(), "acme", Guid.NewGuid(), name, "generic",
        "5 deliveries in a row failed every attempt", DateTimeOffset.Parse("2026-12-04T10:00:00Z"), DateTimeOffset.Parse("2026-12-04T11:00:00Z"),
        change == "recovered" ? DateTimeOffset.Parse("2026-12-04T12:00:00Z") : null, change == "disabled" ? DateTimeOffset.Parse("2026-12-09T10:00:00Z") : null,
        change == "disabled" ? "no attempt succeeded for more than 5 days" : null, DateTimeOffset.Parse("2026-12-04T12:00:00Z"));

    [Theory]
    [InlineData("generic", "opened")]
    [InlineData("generic", "recovered")]
    [InlineData("generic", "disabled")]
    [InlineData("slack", "opened")]
    [InlineData("slack", "disabled")]
    [InlineData("teams", "recovered")]
    public void Should_render_json_whose_text_the_sender_expands_to_itself(string kind, string change)
    {
        var facts = Facts(change, name: "x ${GITHUB_TOKEN} $$ $");
        var sealedPayload = IncidentAlert.Payload(kind, facts);
        Assert.Empty(PayloadTemplate.SecretReferences(sealedPayload));
        var sent = PayloadTemplate.ExpandSecrets(sealedPayload, _ => "LEAKED");
        Assert.DoesNotContain("LEAKED", sent, StringComparison.Ordinal);
        Assert.Contains("x ${GITHUB_TOKEN} $$ $", sent, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(sent);
        if (kind == "generic")
        {
            Assert.Equal("webhook.incident." + change, doc.RootElement.GetProperty("type").GetString());
            Assert.Equal(facts.IncidentId, doc.RootElement.GetProperty("incident").GetProperty("id").GetGuid());
        }
    }

    [Theory]
    [InlineData("opened", "warning", "is failing")]
    [InlineData("disabled", "error", "was disabled")]
    [InlineData("recovered", "info", "recovered")]
    public void Should_say_what_changed_with_its_severity(string change, string severity, string title)
    {
        Assert.Equal(severity, IncidentAlert.Severity(change));
        Assert.EndsWith(title, IncidentAlert.Title(Facts(change)), StringComparison.Ordinal);
    }
}
