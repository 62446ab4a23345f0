//! What daehwa reads out of an uploaded file (issue 20): the file's type
//! from its bytes (not its name alone), the text of documents and images
//! scaled down for vision models.
