package deepidv

import (
	"encoding/json"
	"fmt"
)

// RiskLevel is the overall risk of a screening, as the API spells it ("LOW"...); a value this package
// does not know is kept as sent.
type RiskLevel string

// The risk levels (and severities) the API documents.
const (
	RiskLow      RiskLevel = "LOW"
	RiskMedium   RiskLevel = "MEDIUM"
	RiskHigh     RiskLevel = "HIGH"
	RiskCritical RiskLevel = "CRITICAL"
)

// Category is an exposure category ("financial_crime"...); unknown ones are kept as sent.
type Category string

// The nine categories the server pre-seeds.
const (
	CategoryFinancialCrime Category = "financial_crime"
	CategoryTerrorism      Category = "terrorism"
	CategoryRegulatory     Category = "regulatory"
	CategoryPolitical      Category = "political"
	CategoryOrganizedCrime Category = "organized_crime"
	CategoryViolentCrime   Category = "violent_crime"
	CategoryCriminalLegal  Category = "criminal_legal"
	CategoryReputational   Category = "reputational"
	CategoryCourtRecords   Category = "court_records"
)

// Source is where an article or a confirmation came from ("news", "court-records",
// "watchlist-database"); unknown ones are kept as sent.
type Source string

// AdverseMediaResult is the result of a ready adverse-media job, the same fields as the Rust SDK's
// deepidv_core::AdverseMediaResult. A field the server leaves out (or sends as null) stays zero; the
// raw JSON stays available in Job.Result.
type AdverseMediaResult struct {
	TotalHits           uint64                `json:"totalHits"`
	RiskLevel           RiskLevel             `json:"riskLevel"`           // "" if absent
	RiskScore           *float64              `json:"riskScore,omitempty"` // 0-100; nil if absent
	Summary             string                `json:"summary"`
	Findings            []Finding             `json:"findings"`
	ExposuresByCategory map[Category]Exposure `json:"exposuresByCategory"` // missing categories are absent
}

// Exposure is one category's hits; a missing category reads as the zero Exposure.
func (r *AdverseMediaResult) Exposure(c Category) Exposure { return r.ExposuresByCategory[c] }

// Finding is one finding of a screening.
type Finding struct {
	FindingID   string    `json:"findingId"`
	Severity    RiskLevel `json:"severity"`
	Category    Category  `json:"category"`
	Title       string    `json:"title"`
	Detail      string    `json:"detail"`
	SourceURL   *string   `json:"sourceUrl,omitempty"`
	SourceName  *string   `json:"sourceName,omitempty"`
	ArticleDate *string   `json:"articleDate,omitempty"`
	Confidence  *float64  `json:"confidence,omitempty"` // 0-1
	ConfirmedBy []Source  `json:"confirmedBy"`
}

// Exposure is the hits and articles in one category.
type Exposure struct {
	Hits     uint64    `json:"hits"`
	Articles []Article `json:"articles"`
}

// Article is one article of an exposure.
type Article struct {
	Timestamp  *string `json:"timestamp,omitempty"`
	Headline   string  `json:"headline"`
	SourceLink *string `json:"sourceLink,omitempty"`
	Source     Source  `json:"source"`
}

// AdverseMedia decodes a ready job's result as an adverse-media result. A job that is not ready is
// ErrInvalidArgument; a result of another shape is ErrInvalidResponse.
func (j *Job) AdverseMedia() (*AdverseMediaResult, error) {
	if j == nil || j.Status != StatusReady || j.Result == nil {
		return nil, invalid("the job has no result (it is not ready)")
	}
	var r AdverseMediaResult
	if err := json.Unmarshal(j.Result, &r); err != nil {
		return nil, &Error{Code: CodeInvalidResponse, Message: fmt.Sprintf("the result is not an adverse-media result: %v", err)}
	}
	return &r, nil
}
